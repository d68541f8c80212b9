/**
 * A proxy's certificate and the certificates that exist agree: a certificate
 * created for a proxy's hostname becomes the proxy's (and is served), the
 * domain index decides between overlapping ones, deleting the certificate a
 * proxy is served by is refused (409 naming the proxy) unless forced, and a
 * forced delete leaves the proxy naming what serves it now. Two tokens: a
 * user cannot make a certificate that would serve another token's proxy.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { cliSession } from "../helpers/cli-program";
import { namedBackend, servedEverywhere, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

let redis: TestRedis;
let gw: TestGateway;
let alice: string;
let bob: string;
const backend = namedBackend("consistency");

beforeAll(async () => {
  redis = await startTestRedis();
  // AUTO_CERTIFICATES off (the helper's default): proxies start with no certificate of their own.
  gw = await startTestGateway(redis);
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  bob = (await gw.api("POST", "/api/v1/tokens/", { name: "bob" })).json.token;
}, 30_000);
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  backend.stop(true);
});

const proxy = async (token: string, hostname: string) => (await gw.apiAs(token, "GET", `/api/v1/proxy/targets/${hostname}`)).json;
const selfSigned = (token: string, cert_name: string, domains: string[]) =>
  gw.apiAs(token, "POST", "/api/v1/certificates/multi-domain", { cert_name, domains, acme: false });
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

describe("a proxy and its certificate", () => {
  test("creating a certificate that covers a proxy's host makes the proxy name it and serve it", async () => {
    expect((await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "app.example.com", target_url: `http://127.0.0.1:${backend.port}` })).status).toBe(201);
    expect(await proxy(alice, "app.example.com")).toMatchObject({ cert_name: null, certificate: null });

    const created = await selfSigned(alice, "app-cert", ["app.example.com"]);
    expect(created.status).toBe(201);
    expect(await proxy(alice, "app.example.com")).toMatchObject({ cert_name: "app-cert", certificate: "app-cert" });
    await servedEverywhere([gw], "app.example.com", fingerprint(created.json.fullchain_pem), 5_000);

    // A wildcard written later does not take a name that has an exact certificate: the proxy stays.
    expect((await selfSigned(alice, "wild", ["*.example.com"])).status).toBe(201);
    expect((await proxy(alice, "app.example.com")).cert_name).toBe("app-cert");
    // A second exact certificate is written last: it serves the name, and the proxy follows.
    const second = await selfSigned(alice, "app-cert-2", ["app.example.com", "www.example.com"]);
    expect((await proxy(alice, "app.example.com")).cert_name).toBe("app-cert-2");
    await servedEverywhere([gw], "app.example.com", fingerprint(second.json.fullchain_pem), 5_000);
  }, 20_000);

  test("a proxy with HTTPS off does not take certificates", async () => {
    await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "plain.example.com", target_url: `http://127.0.0.1:${backend.port}`, enable_https: false });
    expect((await selfSigned(alice, "plain-cert", ["plain.example.com"])).status).toBe(201);
    expect(await proxy(alice, "plain.example.com")).toMatchObject({ cert_name: null, certificate: null });
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/certificates/plain-cert")).status).toBe(200);
  });

  test("deleting the certificate a proxy is served by: 409 naming the proxy, nothing deleted; --force deletes it and the proxy names what serves it now", async () => {
    const refused = await gw.apiAs(alice, "DELETE", "/api/v1/certificates/app-cert-2");
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain("app.example.com");
    expect((await gw.apiAs(alice, "GET", "/api/v1/certificates/app-cert-2")).status).toBe(200);

    // The earlier exact certificate still lists the name, but no proxy names it and the index gave the name away: not in use.
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/certificates/app-cert")).status).toBe(200);

    // Served by the index without being named: still refused (a proxy whose cert_name was set to something else).
    await gw.apiAs(alice, "PUT", "/api/v1/proxy/targets/app.example.com", { cert_name: "wild" });
    expect((await proxy(alice, "app.example.com")).cert_name).toBe("wild");
    const stillServing = await gw.apiAs(alice, "DELETE", "/api/v1/certificates/app-cert-2");
    expect(stillServing.status).toBe(409);
    expect(stillServing.json.detail).toContain("app.example.com");

    const forced = await gw.apiAs(alice, "DELETE", "/api/v1/certificates/app-cert-2?force=true");
    expect(forced.status).toBe(200);
    // The wildcard serves the name now, and the proxy says so.
    expect(await proxy(alice, "app.example.com")).toMatchObject({ cert_name: "wild", certificate: "wild" });
    const wild = (await gw.apiAs(alice, "GET", "/api/v1/certificates/wild")).json;
    await servedEverywhere([gw], "app.example.com", fingerprint(wild.fullchain_pem), 5_000);

    // Deleting that one too (forced): the proxy names no certificate rather than one that is gone.
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/certificates/wild")).status).toBe(409);
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/certificates/wild?force=true")).status).toBe(200);
    expect(await proxy(alice, "app.example.com")).toMatchObject({ cert_name: null, certificate: null });
  }, 20_000);

  test("two tokens: bob cannot make a certificate that would take over alice's proxy; the admin can, and bob's refusal would not name it", async () => {
    await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "shared.example.net", target_url: `http://127.0.0.1:${backend.port}` });
    await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "*.wild.example.net", target_url: `http://127.0.0.1:${backend.port}` });
    // The exact name, a wildcard covering it, a name alice's wildcard covers; self-signed or local CA alike.
    for (const [name, domains, acme] of [
      ["takeover", ["shared.example.net"], false],
      ["takeover", ["*.example.net"], false],
      ["takeover", ["a.wild.example.net"], false],
      ["takeover", ["ok.example.org", "shared.example.net"], false],
    ] as const) {
      const res = await gw.apiAs(bob, "POST", "/api/v1/certificates/multi-domain", { cert_name: name, domains, acme });
      expect({ domains, status: res.status }).toEqual({ domains, status: 403 });
      expect(res.json.detail).toContain("another token owns");
      expect(res.json.detail).not.toContain("shared.example.net is");
    }
    expect((await gw.apiAs(bob, "GET", "/api/v1/certificates/")).json).toEqual([]);
    expect((await proxy(alice, "shared.example.net")).cert_name).toBeNull();
    // Bob's own names are fine.
    expect((await selfSigned(bob, "bobs-own", ["bob.example.org"])).status).toBe(201);

    // The admin may; the proxy follows. A refusal seen by bob would count alice's proxy without naming it.
    expect((await gw.api("POST", "/api/v1/certificates/", { cert_name: "admin-shared", domain: "shared.example.net", acme: false })).status).toBe(201);
    expect((await proxy(alice, "shared.example.net")).cert_name).toBe("admin-shared");
    const refused = await gw.api("DELETE", "/api/v1/certificates/admin-shared");
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain("shared.example.net");
    expect((await gw.apiAs(bob, "GET", "/api/v1/proxy/targets/shared.example.net")).status).toBe(404);
    expect((await gw.apiAs(bob, "GET", "/api/v1/proxy/targets/")).json).toEqual([]);
    // A certificate bob made before alice's proxy existed serves it: bob's refusal counts it without naming it.
    expect((await selfSigned(bob, "bobs-first", ["later.example.org"])).status).toBe(201);
    await gw.apiAs(alice, "POST", "/api/v1/proxy/targets/", { hostname: "later.example.org", target_url: `http://127.0.0.1:${backend.port}` });
    expect((await proxy(alice, "later.example.org")).cert_name).toBe("bobs-first");
    const hidden = await gw.apiAs(bob, "DELETE", "/api/v1/certificates/bobs-first");
    expect(hidden.status).toBe(409);
    expect(hidden.json.detail).toContain("1 other proxy");
    expect(hidden.json.detail).not.toContain("later.example.org");
    // Alice cannot delete bob's certificate at all.
    expect((await gw.apiAs(alice, "DELETE", "/api/v1/certificates/bobs-own?force=true")).status).toBe(404);
  });

  test("the CLI: proxy list's Certificate column, and cert delete refused without --force", async () => {
    const session = cliSession(() => `http://127.0.0.1:${gw.gateway.apiPort}`, alice, tempDir("consistency-home"));
    await selfSigned(alice, "app-again", ["app.example.com"]);
    const list = await session.ok("proxy", "list");
    expect(list).toMatch(/app\.example\.com\s.*app-again/);
    const refused = await session.cli("cert", "delete", "app-again");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("app.example.com");
    expect(refused.stderr).toContain("--force");
    expect((await session.cli("cert", "delete", "app-again", "--force")).code).toBe(0);
    expect((await session.json("proxy", "show", "app.example.com")).certificate).toBeNull();
  });
});
