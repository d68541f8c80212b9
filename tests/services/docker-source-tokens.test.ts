/**
 * Source tokens end to end against a real Docker API (podman), Redis and the
 * in-process gateway: a token port is published by the engine on loopback
 * only, the gateway binds the allocated host port and relays requests that
 * carry the token. The container runs busybox httpd with a CGI script that
 * prints the headers it received, and logs every request it gets (-vv), so
 * "the container never saw it" is read from its own log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { cliSession } from "../helpers/cli-program";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { preChosenPort } from "../helpers/ports";
import { rawConnection, statusLines } from "../helpers/raw-http";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { within } from "../helpers/within";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

const TOKEN = "web-token-0123456789";
const ADMIN_TOKEN = "adm-token-0123456789";

/** A CGI script answering with the HTTP_* variables (the request headers) it got; CRLF, as the gateway's HTTP parser requires. */
const ECHO_CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nbusybox env | busybox grep ^HTTP_ | busybox sort\n";

/** httpd logging each request (-vv) with /cgi-bin/echo; stops on TERM like the test image's own script. */
const SERVE_WITH_ECHO = [
  "sh",
  "-c",
  [
    "mkdir -p /www/cgi-bin",
    'echo "hello from tokens" > /www/index.html',
    'printf "%s" "$ECHO_CGI" > /www/cgi-bin/echo',
    "busybox chmod 755 /www/cgi-bin/echo",
    "(httpd -f -vv -p 8080 -h /www & trap 'kill $! 2>/dev/null; exit 0' TERM INT; wait)",
  ].join(" && "),
];

async function containerLog(service: string): Promise<string> {
  const out = await engine.podman("logs", `portcullis-${service}`);
  return out.stdout + out.stderr;
}

/** The status a request to a host port gets, or "refused". */
async function statusAt(port: number, path: string, headers: Record<string, string> = {}): Promise<number | "refused"> {
  try {
    return (await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return "refused";
  }
}

/** Until the container's httpd answers through the relay (it starts a moment after the container). */
async function untilServed(port: number, headers: Record<string, string>): Promise<void> {
  expect(await within(20_000, async () => (await statusAt(port, "/", headers)) === 200)).toBe(true);
}

describe("a service with token ports", () => {
  let web: number;
  let admin: number;
  beforeAll(async () => {
    web = preChosenPort();
    admin = preChosenPort();
    const created = await gw.api("POST", "/api/v1/services/", {
      service_name: "tokens",
      image: TEST_IMAGE,
      command: SERVE_WITH_ECHO,
      environment: { ECHO_CGI },
      port_configs: [
        { name: "web", host: web, container: 8080, source_token: TOKEN },
        { name: "admin", host: admin, container: 8080, source_token: ADMIN_TOKEN },
      ],
    });
    expect(created.status).toBe(201);
    await untilServed(web, { "x-source-token": TOKEN });
  }, 60_000);

  test("the engine publishes the container port on loopback at a port of its own, never on the allocated host port; the token is stored as its hash only", async () => {
    const bindings = (await engine.inspect("portcullis-tokens")).HostConfig.PortBindings["8080/tcp"] as { HostIp: string; HostPort: string }[];
    expect(bindings.length).toBeGreaterThan(0);
    for (const binding of bindings) {
      expect(binding.HostIp).toBe("127.0.0.1");
      expect([String(web), String(admin)]).not.toContain(binding.HostPort);
    }
    const listed = (await gw.api("GET", "/api/v1/services/tokens/ports")).json as any[];
    const entry = listed.find((p) => p.port_name === "web");
    expect(entry).toMatchObject({ host_port: web, require_token: true, source_token_hash: hashApiToken(TOKEN) });
    expect(entry.relay_upstream).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(JSON.stringify(listed)).not.toContain(TOKEN);
    expect(await redis.client.get(keys.port(web))).not.toContain(TOKEN);
  });

  test("no token → 401 with a challenge, and the container never saw the request", async () => {
    const res = await fetch(`http://127.0.0.1:${web}/probe-without-token`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toStartWith("Bearer ");
    expect(((await res.json()) as any).error).toBe("unauthorized");
    // A later request that does pass shows up in the log; the refused one never does.
    expect(await statusAt(web, "/probe-after", { authorization: `Bearer ${TOKEN}` })).toBe(404);
    expect(await within(3_000, async () => (await containerLog("tokens")).includes("/probe-after"))).toBe(true);
    expect(await containerLog("tokens")).not.toContain("/probe-without-token");
  });

  test("Bearer → 200 from the container, which does not see that Authorization; X-Forwarded-For is the gateway's", async () => {
    const res = await fetch(`http://127.0.0.1:${web}/cgi-bin/echo`, { headers: { authorization: `Bearer ${TOKEN}`, "x-forwarded-for": "6.6.6.6" } });
    expect(res.status).toBe(200);
    const seen = await res.text();
    expect(seen).toContain("HTTP_X_FORWARDED_FOR=127.0.0.1");
    expect(seen).not.toContain("6.6.6.6");
    expect(seen).not.toContain("HTTP_AUTHORIZATION");
    expect(seen).not.toContain(TOKEN);
  });

  test("X-Source-Token → 200, and the container does not see X-Source-Token (the backend's own Authorization passes)", async () => {
    const res = await fetch(`http://127.0.0.1:${web}/cgi-bin/echo`, { headers: { "x-source-token": TOKEN, authorization: "Bearer app-session-1" } });
    expect(res.status).toBe(200);
    const seen = await res.text();
    expect(seen).not.toContain("HTTP_X_SOURCE_TOKEN");
    expect(seen).not.toContain(TOKEN);
    expect(seen).toContain("HTTP_AUTHORIZATION=Bearer app-session-1");
  });

  test("a wrong token of the same length → 401; another port's token → 401; each port its own token → 200", async () => {
    const wrong = TOKEN.slice(0, -1) + "x";
    expect(wrong.length).toBe(TOKEN.length);
    expect(await statusAt(web, "/probe-wrong", { "x-source-token": wrong })).toBe(401);
    expect(await statusAt(web, "/probe-other-port", { authorization: `Bearer ${ADMIN_TOKEN}` })).toBe(401);
    expect(await statusAt(admin, "/probe-crossed", { "x-source-token": TOKEN })).toBe(401);
    expect(await statusAt(admin, "/", { "x-source-token": ADMIN_TOKEN })).toBe(200);
    expect(await statusAt(web, "/probe-last", { "x-source-token": TOKEN })).toBe(404);
    expect(await within(3_000, async () => (await containerLog("tokens")).includes("/probe-last"))).toBe(true);
    const log = await containerLog("tokens");
    for (const path of ["/probe-wrong", "/probe-other-port", "/probe-crossed"]) expect(log).not.toContain(path);
  });

  test("CL+TE smuggling on the relay port: refused or framed by the gateway; the smuggled request never reaches the container", async () => {
    const smuggled = "GET /smuggled-probe HTTP/1.1\r\nHost: x\r\n\r\n";
    const client = await rawConnection(web);
    const answer = await client.send(
      `POST /cgi-bin/echo HTTP/1.1\r\nHost: x\r\nX-Source-Token: ${TOKEN}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
      500,
    );
    client.close();
    for (const line of statusLines(answer)) expect(["HTTP/1.1 200", "HTTP/1.1 400", "HTTP/1.1 401"]).toContain(line);
    expect(await statusAt(web, "/probe-after-smuggling", { "x-source-token": TOKEN })).toBe(404);
    expect(await within(3_000, async () => (await containerLog("tokens")).includes("/probe-after-smuggling"))).toBe(true);
    expect(await containerLog("tokens")).not.toContain("/smuggled-probe");
  });

  test("udp with a source token → 400 naming source_token; nothing changes", async () => {
    const res = await gw.api("POST", "/api/v1/services/tokens/ports", { name: "dns", container: 5353, protocol: "udp", source_token: "x" });
    expect(res.status).toBe(400);
    expect(res.json.detail).toContain("source_token");
    expect(((await gw.api("GET", "/api/v1/services/tokens/ports")).json as any[]).map((p) => p.port_name).sort()).toEqual(["admin", "web"]);
  });

  test("a stopped service: 503 through the relay; started again: served at the container's new address", async () => {
    expect((await gw.api("POST", "/api/v1/services/tokens/stop")).json.status).toBe("stopped");
    expect(await within(2_000, async () => (await statusAt(web, "/", { "x-source-token": TOKEN })) === 503)).toBe(true);
    expect(await statusAt(web, "/")).toBe(401);
    expect((await gw.api("POST", "/api/v1/services/tokens/start")).json.status).toBe("running");
    await untilServed(web, { "x-source-token": TOKEN });
  }, 60_000);

  test("token changed → the old token 401 within 100 ms, the new one 200, the container kept", async () => {
    const before = (await gw.api("GET", "/api/v1/services/tokens")).json.container_id;
    const changed = await gw.api("PUT", "/api/v1/services/tokens/ports/web", { source_token: "web-token-NEW-456789" });
    expect(changed.status).toBe(200);
    const answeredAt = performance.now();
    expect(await within(100, async () => (await statusAt(web, "/", { "x-source-token": TOKEN })) === 401)).toBe(true);
    expect(performance.now() - answeredAt).toBeLessThan(150);
    expect(await statusAt(web, "/", { "x-source-token": "web-token-NEW-456789" })).toBe(200);
    expect((await gw.api("GET", "/api/v1/services/tokens")).json.container_id).toBe(before);
  });

  test("token removed → the container is recreated and the engine publishes the port directly; token added again → the gateway serves it", async () => {
    const removed = await gw.api("PUT", "/api/v1/services/tokens/ports/admin", { source_token: "" });
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ require_token: false, source_token_hash: null });
    const bindings = (await engine.inspect("portcullis-tokens")).HostConfig.PortBindings["8080/tcp"] as { HostIp: string; HostPort: string }[];
    expect(bindings).toContainEqual({ HostIp: "127.0.0.1", HostPort: String(admin) });
    expect(await within(10_000, async () => (await statusAt(admin, "/")) === 200)).toBe(true);
    // The token port next to it is still the gateway's.
    await untilServed(web, { "x-source-token": "web-token-NEW-456789" });
    expect(await statusAt(web, "/")).toBe(401);

    const added = await gw.api("PUT", "/api/v1/services/tokens/ports/admin", { source_token: ADMIN_TOKEN });
    expect(added.status).toBe(200);
    const again = (await engine.inspect("portcullis-tokens")).HostConfig.PortBindings["8080/tcp"] as { HostIp: string; HostPort: string }[];
    expect(again.map((b) => b.HostPort)).not.toContain(String(admin));
    expect(await within(5_000, async () => (await statusAt(admin, "/")) === 401)).toBe(true);
    await untilServed(admin, { "x-source-token": ADMIN_TOKEN });
  }, 60_000);

  test("delete → the listeners close and the ports are bindable again", async () => {
    expect((await gw.api("DELETE", "/api/v1/services/tokens?force=true")).status).toBe(200);
    for (const port of [web, admin]) {
      expect(await within(1_000, async () => (await statusAt(port, "/")) === "refused")).toBe(true);
      Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
      expect((await gw.api("POST", "/api/v1/services/ports/check", { port })).json.available).toBe(true);
    }
  });
});

describe("ownership", () => {
  test("another user can neither see nor change a token port (404) and the owner's token keeps working; deleting the owner token closes the port", async () => {
    const erin = (await gw.api("POST", "/api/v1/tokens/", { name: "erin-tokens" })).json.token as string;
    const frank = (await gw.api("POST", "/api/v1/tokens/", { name: "frank-tokens" })).json.token as string;
    const port = preChosenPort();
    const created = await gw.apiAs(erin, "POST", "/api/v1/services/", { service_name: "erin-app", image: TEST_IMAGE, port_configs: [{ name: "web", host: port, container: 8080, source_token: TOKEN }] });
    expect(created.status).toBe(201);
    await untilServed(port, { "x-source-token": TOKEN });

    expect((await gw.apiAs(frank, "PUT", "/api/v1/services/erin-app/ports/web", { source_token: "frank-takes-over" })).status).toBe(404);
    expect((await gw.apiAs(frank, "GET", "/api/v1/services/erin-app/ports")).status).toBe(404);
    expect(((await gw.apiAs(frank, "GET", "/api/v1/services/ports")).json as any[]).map((p) => p.host_port)).not.toContain(port);
    await Bun.sleep(50);
    expect(await statusAt(port, "/", { "x-source-token": "frank-takes-over" })).toBe(401);
    expect(await statusAt(port, "/", { "x-source-token": TOKEN })).toBe(200);

    expect((await gw.api("DELETE", "/api/v1/tokens/erin-tokens")).status).toBe(200);
    expect(await within(2_000, async () => (await statusAt(port, "/")) === "refused")).toBe(true);
  }, 60_000);
});

describe("CLI", () => {
  test("portcullis service port-add --source-token: the gateway serves the new port and requires the token", async () => {
    const admin = cliSession(() => `http://127.0.0.1:${gw.gateway.apiPort}`, GATEWAY_ADMIN, tempDir("source-token-cli-home"));
    expect((await gw.api("POST", "/api/v1/services/", { service_name: "cli-tokens", image: TEST_IMAGE })).status).toBe(201);
    const port = preChosenPort();
    const added = await admin.json("service", "port-add", "cli-tokens", "8080", "--host", String(port), "--name", "web", "--source-token", "cli-secret-1");
    expect(added).toMatchObject({ port_name: "web", host_port: port, require_token: true, source_token_hash: hashApiToken("cli-secret-1") });
    await untilServed(port, { "x-source-token": "cli-secret-1" });
    expect(await statusAt(port, "/")).toBe(401);
    const udp = await admin.cli("service", "port-add", "cli-tokens", "5353", "--protocol", "udp", "--source-token", "x");
    expect(udp.code).not.toBe(0);
    expect(udp.stderr).toContain("source_token");
    expect((await gw.api("DELETE", "/api/v1/services/cli-tokens?force=true")).status).toBe(200);
  }, 60_000);
});
