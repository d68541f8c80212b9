import { describe, expect, test } from "bun:test";
import { PROXY_DEFAULTS } from "../../src/api/schemas/proxy-target";
import { keys } from "../../src/storage/keys";
import { useApiHarness, snapshot } from "../helpers/api-app";

const suite = useApiHarness();

const create = (body: unknown, token?: string) => suite.api.call("POST", "/api/v1/proxy/targets/", { body, token });

async function userToken(name: string): Promise<string> {
  return (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token;
}

async function events(): Promise<{ event_type: string; hostname: string; data: Record<string, unknown> }[]> {
  const entries = await suite.redis.client.xrange(keys.workflowStream, "-", "+");
  return entries.map(([, fields]) => {
    const f = Object.fromEntries(fields.reduce<[string, string][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, fields[i + 1]!]]), []));
    return { event_type: f.event_type!, hostname: f.hostname!, data: JSON.parse(f.data!) };
  });
}

describe("proxy targets", () => {
  test("create fills every default, stores it, and announces it", async () => {
    const res = await create({ hostname: "App.Example.com", target_url: "http://127.0.0.1:3000" });
    expect(res.status).toBe(201);
    const { github_client_secret, ...visibleDefaults } = PROXY_DEFAULTS;
    // A loopback backend gets its own host, not the client's (defaultPreserveHost).
    expect(res.json).toMatchObject({ ...visibleDefaults, preserve_host_header: false });
    expect(Object.keys(res.json)).not.toContain("github_client_secret");
    expect(res.json.hostname).toBe("app.example.com");
    expect(res.json.target_url).toBe("http://127.0.0.1:3000");
    expect(res.json.created_by).toBe("admin");
    expect(res.json.github_client_secret_set).toBe(false);
    expect(JSON.parse((await suite.redis.client.get(keys.proxy("app.example.com")))!).route_mode).toBe("all");
    expect(await events()).toEqual([
      { event_type: "proxy_created", hostname: "app.example.com", data: { enable_http: true, enable_https: true, cert_name: null } },
    ]);
  });

  test("preserve_host_header: the client's Host by default, the backend's own for a loopback backend, as asked when given", async () => {
    const cases: [string, Record<string, unknown>, boolean][] = [
      ["http://10.0.0.7:3000", {}, true],
      ["https://backend.internal", {}, true],
      ["http://127.0.0.1:3000", {}, false],
      ["http://127.9.9.9:3000", {}, false],
      ["http://localhost:3000", {}, false],
      ["http://mcp.localhost:3000", {}, false],
      ["http://[::1]:3000", {}, false],
      ["http://127.0.0.1:3000", { preserve_host_header: true }, true],
      ["http://10.0.0.7:3000", { preserve_host_header: false }, false],
    ];
    for (const [i, [target_url, extra, preserved]] of cases.entries()) {
      const res = await create({ hostname: `host-default-${i}.example.com`, target_url, ...extra });
      expect({ target_url, extra, status: res.status, preserved: res.json.preserve_host_header }).toEqual({ target_url, extra, status: 201, preserved });
    }
    // An update never changes it behind the operator's back.
    const moved = await suite.api.call("PUT", "/api/v1/proxy/targets/host-default-0.example.com", { body: { target_url: "http://127.0.0.1:4000" } });
    expect(moved.json.preserve_host_header).toBe(true);
  });

  test("list, show, update, delete — each change announced", async () => {
    await create({ hostname: "a.example.com", target_url: "http://127.0.0.1:3000", custom_headers: { "X-Team": "blue" } });
    const list = await suite.api.call("GET", "/api/v1/proxy/targets");
    expect(list.json.map((p: any) => p.hostname)).toEqual(["a.example.com"]);

    const updated = await suite.api.call("PUT", "/api/v1/proxy/targets/a.example.com", { body: { enabled: false, preserve_host_header: false } });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ enabled: false, preserve_host_header: false, custom_headers: { "X-Team": "blue" } });
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/a.example.com/")).json.enabled).toBe(false);

    expect((await suite.api.call("DELETE", "/api/v1/proxy/targets/a.example.com")).status).toBe(200);
    expect(await suite.redis.client.exists(keys.proxy("a.example.com"))).toBe(0);
    expect((await events()).map((e) => e.event_type)).toEqual(["proxy_created", "proxy_updated", "proxy_deleted"]);
  });

  test("wildcard hostnames are accepted", async () => {
    expect((await create({ hostname: "*.apps.example.com", target_url: "https://10.0.0.5:8443/base" })).status).toBe(201);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/*.apps.example.com")).json.target_url).toBe("https://10.0.0.5:8443/base");
  });

  test("route control: mode and lists, with the effective routes in evaluation order", async () => {
    await create({ hostname: "a.example.com", target_url: "http://127.0.0.1:3000" });
    for (const [id, priority] of [["r1", 10], ["r2", 90]] as const) {
      await suite.api.call("POST", "/api/v1/routes/", { body: { route_id: id, path_pattern: `/${id}`, target_type: "url", target_value: "http://127.0.0.1:4000", priority } });
    }
    const before = await suite.api.call("GET", "/api/v1/proxy/targets/a.example.com/routes");
    expect(before.json.effective_routes.map((r: any) => r.route_id)).toEqual(["r2", "r1"]);
    const after = await suite.api.call("PUT", "/api/v1/proxy/targets/a.example.com/routes", { body: { route_mode: "selective", enabled_routes: ["r1"] } });
    expect(after.json).toMatchObject({ route_mode: "selective", enabled_routes: ["r1"] });
    expect(after.json.effective_routes.map((r: any) => r.route_id)).toEqual(["r1"]);
  });

  test("ownership: a user sees and changes only its proxies; deleting the token deletes them", async () => {
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    expect((await create({ hostname: "alice.example.com", target_url: "http://127.0.0.1:3000" }, alice)).status).toBe(201);
    expect((await create({ hostname: "bob.example.com", target_url: "http://127.0.0.1:3000" }, bob)).status).toBe(201);

    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: alice })).json.map((p: any) => p.hostname)).toEqual(["alice.example.com"]);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/bob.example.com", { token: alice })).status).toBe(404);
    expect((await suite.api.call("PUT", "/api/v1/proxy/targets/bob.example.com", { token: alice, body: { enabled: false } })).status).toBe(404);
    expect((await suite.api.call("DELETE", "/api/v1/proxy/targets/bob.example.com", { token: alice })).status).toBe(404);
    expect((await suite.api.call("GET", "/api/v1/proxy/targets/", { token: undefined })).json.length).toBe(2);

    const deleted = await suite.api.call("DELETE", "/api/v1/tokens/alice");
    expect(deleted.json.owned_resources_deleted).toEqual({ proxy: 1 });
    expect(await suite.redis.client.exists(keys.proxy("alice.example.com"))).toBe(0);
    expect(await suite.redis.client.exists(keys.proxy("bob.example.com"))).toBe(1);
    expect((await events()).filter((e) => e.event_type === "proxy_deleted").map((e) => e.hostname)).toEqual(["alice.example.com"]);
  });
});

describe("bad proxy input gets a 4xx JSON error and writes nothing", () => {
  const base = { hostname: "x.example.com", target_url: "http://127.0.0.1:3000" };
  const cases: [string, string, string, unknown, number, RegExp][] = [
    ["missing target_url", "POST", "/api/v1/proxy/targets/", { hostname: "x.example.com" }, 422, /target_url/],
    ["unknown field", "POST", "/api/v1/proxy/targets/", { ...base, colour: "red" }, 422, /colour/],
    ["server-managed field", "POST", "/api/v1/proxy/targets/", { ...base, owner_token_hash: "sha256:x" }, 422, /owner_token_hash/],
    ["secret through the schema", "POST", "/api/v1/proxy/targets/", { ...base, github_client_secret: "s" }, 422, /github_client_secret/],
    ["ftp target", "POST", "/api/v1/proxy/targets/", { ...base, target_url: "ftp://h/" }, 422, /only http and https/],
    ["credentials in target", "POST", "/api/v1/proxy/targets/", { ...base, target_url: "http://u:p@h/" }, 422, /credentials/],
    ["query in target", "POST", "/api/v1/proxy/targets/", { ...base, target_url: "http://h/?a=1" }, 422, /query/],
    ["not a URL", "POST", "/api/v1/proxy/targets/", { ...base, target_url: "nope" }, 422, /not a URL/],
    ["hostname with port", "POST", "/api/v1/proxy/targets/", { ...base, hostname: "x.example.com:80" }, 422, /not a hostname/],
    ["hostname with scheme", "POST", "/api/v1/proxy/targets/", { ...base, hostname: "http://x.example.com" }, 422, /not a hostname/],
    ["deep wildcard", "POST", "/api/v1/proxy/targets/", { ...base, hostname: "*.*.example.com" }, 422, /not a hostname/],
    ["bad auth_mode", "POST", "/api/v1/proxy/targets/", { ...base, auth_mode: "sometimes" }, 422, /auth_mode/],
    ["wrong type", "POST", "/api/v1/proxy/targets/", { ...base, enabled: "yes" }, 422, /enabled/],
    ["custom X-Auth header", "POST", "/api/v1/proxy/targets/", { ...base, custom_headers: { "X-Auth-User": "root" } }, 422, /X-Auth/],
    ["custom Host header", "POST", "/api/v1/proxy/targets/", { ...base, custom_headers: { Host: "evil" } }, 422, /set by the gateway/],
    ["header injection", "POST", "/api/v1/proxy/targets/", { ...base, custom_response_headers: { "X-A": "1\r\nSet-Cookie: a=b" } }, 422, /line break/],
    ["bad header name", "POST", "/api/v1/proxy/targets/", { ...base, custom_headers: { "Bad Name": "1" } }, 422, /header name/],
    ["duplicate hostname", "POST", "/api/v1/proxy/targets/", { hostname: "taken.example.com", target_url: "http://127.0.0.1:1" }, 409, /already exists/],
    ["API hostname", "POST", "/api/v1/proxy/targets/", { ...base, hostname: "localhost" }, 409, /reserved for the API/],
    ["auth hostname", "POST", "/api/v1/proxy/targets/", { ...base, hostname: "auth.localhost" }, 409, /authorization server/],
    ["http issuer on update", "PUT", "/api/v1/proxy/targets/taken.example.com", { oauth_server_issuer: "http://auth.example.com" }, 422, /oauth_server_issuer/],
    ["malformed scope on create", "POST", "/api/v1/proxy/targets/", { ...base, oauth_server_scopes: ["root access"] }, 422, /oauth_server_scopes/],
    ["hostname change on update", "PUT", "/api/v1/proxy/targets/taken.example.com", { hostname: "other.example.com" }, 422, /cannot change/],
    ["bad target on update", "PUT", "/api/v1/proxy/targets/taken.example.com", { target_url: "file:///etc/passwd" }, 422, /only http/],
    ["bad route_mode", "PUT", "/api/v1/proxy/targets/taken.example.com/routes", { route_mode: "some" }, 422, /route_mode/],
    ["update of a missing proxy", "PUT", "/api/v1/proxy/targets/ghost.example.com", { enabled: false }, 404, /not found/],
  ];
  for (const [name, method, path, body, status, detail] of cases) {
    test(name, async () => {
      await create({ hostname: "taken.example.com", target_url: "http://127.0.0.1:3000" });
      const before = await snapshot(suite.redis);
      const res = await suite.api.call(method, path, { body });
      expect(res.status).toBe(status);
      expect(res.json.detail).toMatch(detail);
      expect(await snapshot(suite.redis)).toEqual(before);
    });
  }

  test("malformed JSON", async () => {
    const before = await snapshot(suite.redis);
    const res = await suite.api.call("POST", "/api/v1/proxy/targets/", { raw: "{" });
    expect(res.status).toBe(400);
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("no bearer", async () => {
    expect((await suite.api.call("POST", "/api/v1/proxy/targets/", { token: null, body: base })).status).toBe(401);
  });
});
