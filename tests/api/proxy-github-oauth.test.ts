import { afterEach, describe, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();

const SECRET = "3f1c9e0b7a5d4c2e8f6a1b0c9d8e7f6a5b4c3d2e";
const OTHER_SECRET = "ffffeeeeddddccccbbbbaaaa9999888877776666";

/** Every answer of every test, to prove afterwards that no secret ever left the API. */
const answers: string[] = [];
async function call(method: string, path: string, options: { token?: string | null; body?: unknown; raw?: string } = {}) {
  const response = await suite.api.call(method, path, options);
  answers.push(JSON.stringify(response.json));
  return response;
}
afterEach(() => {
  for (const answer of answers.splice(0)) {
    expect(answer).not.toContain(SECRET);
    expect(answer).not.toContain(OTHER_SECRET);
    expect(answer).not.toContain("31415926535");
    expect(answer).not.toContain("v1:"); // nor its sealed form
  }
});

const configure = (hostname: string, body: unknown, token?: string) => call("POST", `/api/v1/proxy/targets/${hostname}/github-oauth`, { body, token });

async function userToken(name: string): Promise<string> {
  return (await call("POST", "/api/v1/tokens/", { body: { name } })).json.token;
}

async function createProxy(hostname: string, token?: string) {
  expect((await call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000" }, token })).status).toBe(201);
}

describe("per-proxy GitHub OAuth apps", () => {
  test("configure, show, list, clear; the secret is stored sealed and opens to what was given", async () => {
    await createProxy("app.example.com");
    expect((await call("GET", "/api/v1/proxy/targets/app.example.com/github-oauth")).json).toEqual({
      hostname: "app.example.com",
      github_client_id: null,
      github_client_secret_set: false,
    });

    const configured = await configure("App.Example.com", { github_client_id: "Ov23liAbCdEf12345678", github_client_secret: SECRET });
    expect(configured.status).toBe(200);
    expect(configured.json).toEqual({ hostname: "app.example.com", github_client_id: "Ov23liAbCdEf12345678", github_client_secret_set: true });

    const stored = (await suite.redis.client.get(keys.proxy("app.example.com")))!;
    expect(stored).not.toContain(SECRET);
    expect(JSON.parse(stored).github_client_secret).toStartWith("v1:");
    expect(suite.api.secretBox.open(JSON.parse(stored).github_client_secret)).toBe(SECRET);
    expect(await suite.api.githubApps.credentialsFor("app.example.com")).toEqual({ clientId: "Ov23liAbCdEf12345678", clientSecret: SECRET, source: "proxy" });

    expect((await call("GET", "/api/v1/proxy/targets/app.example.com/github-oauth/")).json.github_client_secret_set).toBe(true);
    expect((await call("GET", "/api/v1/proxy/targets/github-oauth/configured")).json).toEqual([
      { hostname: "app.example.com", github_client_id: "Ov23liAbCdEf12345678", github_client_secret_set: true },
    ]);
    // The proxy's own views say only that a secret is set.
    const proxy = await call("GET", "/api/v1/proxy/targets/app.example.com");
    expect(proxy.json).toMatchObject({ github_client_id: "Ov23liAbCdEf12345678", github_client_secret_set: true });
    await call("GET", "/api/v1/proxy/targets");

    // Reconfiguring replaces the secret.
    await configure("app.example.com", { github_client_id: "Ov23liAbCdEf12345678", github_client_secret: OTHER_SECRET });
    expect((await suite.api.githubApps.credentialsFor("app.example.com"))!.clientSecret).toBe(OTHER_SECRET);

    const cleared = await call("DELETE", "/api/v1/proxy/targets/app.example.com/github-oauth");
    expect(cleared.status).toBe(200);
    expect(cleared.json).toEqual({ hostname: "app.example.com", github_client_id: null, github_client_secret_set: false });
    expect(JSON.parse((await suite.redis.client.get(keys.proxy("app.example.com")))!)).toMatchObject({ github_client_id: null, github_client_secret: null });
    expect((await call("GET", "/api/v1/proxy/targets/github-oauth/configured")).json).toEqual([]);
  });

  test("ownership: each token configures and sees only its proxies; the admin sees all", async () => {
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    await createProxy("alice.example.com", alice);
    await createProxy("bob.example.com", bob);
    const body = { github_client_id: "Ov23liAlice", github_client_secret: SECRET };

    expect((await configure("alice.example.com", body, alice)).status).toBe(200);
    expect((await configure("bob.example.com", { ...body, github_client_id: "Ov23liBob" }, bob)).status).toBe(200);

    for (const [method, extra] of [["GET", {}], ["POST", { body }], ["DELETE", {}]] as const) {
      const denied = await call(method, "/api/v1/proxy/targets/bob.example.com/github-oauth", { token: alice, ...extra });
      expect(denied.status).toBe(404);
      expect(denied.json).toEqual({ error: "not_found", detail: 'proxy "bob.example.com" not found' });
    }
    expect((await suite.api.githubApps.credentialsFor("bob.example.com"))!.clientId).toBe("Ov23liBob");

    const list = (token?: string) => call("GET", "/api/v1/proxy/targets/github-oauth/configured", { token }).then((r) => r.json.map((p: any) => p.hostname));
    expect(await list(alice)).toEqual(["alice.example.com"]);
    expect(await list(bob)).toEqual(["bob.example.com"]);
    expect(await list()).toEqual(["alice.example.com", "bob.example.com"]);
    expect((await call("GET", "/api/v1/proxy/targets/bob.example.com/github-oauth")).json.github_client_id).toBe("Ov23liBob");
    expect((await call("DELETE", "/api/v1/proxy/targets/bob.example.com/github-oauth")).status).toBe(200);
  });

  test("unknown proxy and no token", async () => {
    expect((await configure("nowhere.example.com", { github_client_id: "Ov23li", github_client_secret: SECRET })).status).toBe(404);
    expect((await call("GET", "/api/v1/proxy/targets/nowhere.example.com/github-oauth")).status).toBe(404);
    expect((await call("DELETE", "/api/v1/proxy/targets/nowhere.example.com/github-oauth")).status).toBe(404);
    for (const path of ["/api/v1/proxy/targets/github-oauth/configured", "/api/v1/proxy/targets/nowhere.example.com/github-oauth"]) {
      const anonymous = await call("GET", path, { token: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.json.error).toBe("unauthorized");
    }
  });

  test("bad input is a 4xx naming the field, writes nothing, and never echoes the secret", async () => {
    await createProxy("app.example.com");
    const before = await snapshot(suite.redis);
    const cases: [unknown, number, RegExp][] = [
      [{ github_client_id: "Ov23li" }, 422, /github_client_secret/],
      [{ github_client_secret: SECRET }, 422, /github_client_id/],
      [{ github_client_id: "Ov23li", github_client_secret: SECRET, extra: true }, 422, /extra|additional/i],
      [{ github_client_id: "Ov23li", github_client_secret: 31415926535 }, 422, /github_client_secret: expected the app's client secret/],
      [{ github_client_id: "Ov23li", github_client_secret: null }, 422, /github_client_secret: expected the app's client secret/],
      [{ github_client_id: "Ov23li", github_client_secret: [SECRET] }, 422, /github_client_secret: expected the app's client secret/],
      [{ github_client_id: "Ov23li", github_client_secret: "" }, 422, /github_client_secret: expected the app's client secret/],
      [{ github_client_id: "Ov23li", github_client_secret: `${SECRET} ${SECRET}` }, 422, /github_client_secret: expected/],
      [{ github_client_id: "Ov23li", github_client_secret: SECRET + "x".repeat(300) }, 422, /github_client_secret: expected/],
      [{ github_client_id: "has space", github_client_secret: SECRET }, 422, /github_client_id: "has space" is not a GitHub client ID/],
      [{ github_client_id: "", github_client_secret: SECRET }, 422, /github_client_id/],
      [[SECRET], 422, /./],
    ];
    for (const [body, status, detail] of cases) {
      const res = await configure("app.example.com", body);
      expect(res.status).toBe(status);
      expect(Object.keys(res.json).sort()).toEqual(["detail", "error"]);
      expect(res.json.detail).toMatch(detail);
    }
    const broken = await call("POST", "/api/v1/proxy/targets/app.example.com/github-oauth", { raw: `{"github_client_secret": "${SECRET}"` });
    expect(broken.status).toBe(400);
    expect(broken.json.error).toBe("invalid_json");
    expect(await snapshot(suite.redis)).toEqual(before);
  });

  test("the fixed list path is not taken for a hostname, and a proxy named github-oauth still works", async () => {
    await createProxy("github-oauth");
    await configure("github-oauth", { github_client_id: "Ov23liNamed", github_client_secret: SECRET });
    expect((await call("GET", "/api/v1/proxy/targets/github-oauth/github-oauth")).json).toEqual({
      hostname: "github-oauth",
      github_client_id: "Ov23liNamed",
      github_client_secret_set: true,
    });
    const list = await call("GET", "/api/v1/proxy/targets/github-oauth/configured/");
    expect(list.status).toBe(200);
    expect(list.json.map((p: any) => p.hostname)).toEqual(["github-oauth"]);
    expect((await call("GET", "/api/v1/proxy/targets/github-oauth")).json.hostname).toBe("github-oauth");
  });

  test("wildcard proxies have apps too; deleting a proxy deletes its app", async () => {
    await createProxy("*.apps.example.com");
    expect((await configure("*.apps.example.com", { github_client_id: "Ov23liWild", github_client_secret: SECRET })).status).toBe(200);
    expect((await call("GET", "/api/v1/proxy/targets/*.apps.example.com/github-oauth")).json.github_client_secret_set).toBe(true);
    expect((await call("DELETE", "/api/v1/proxy/targets/*.apps.example.com")).status).toBe(200);
    expect((await call("GET", "/api/v1/proxy/targets/github-oauth/configured")).json).toEqual([]);
  });

  test("the OpenAPI document lists the endpoints", async () => {
    const spec = (await call("GET", "/api/v1/openapi.json", { token: null })).json;
    const paths = Object.keys(spec.paths).filter((p) => p.includes("github-oauth"));
    expect(paths.sort()).toEqual([
      "/api/v1/proxy/targets/github-oauth/configured",
      "/api/v1/proxy/targets/{hostname}/github-oauth",
      "/api/v1/proxy/targets/{hostname}/github-oauth/secret",
    ]);
  });
});
