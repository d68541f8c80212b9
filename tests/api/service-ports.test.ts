/**
 * GET /api/v1/services/ports, /services/ports/available and POST
 * /services/ports/check on the real API app and a real Redis: ownership with
 * two tokens, free runs that honour restricted and allocated ports, a port
 * held on the host, and 400s for a bad port or bind address.
 */
import { describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { PortAllocator } from "../../src/services/port-allocator";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const newToken = async (name: string) => (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token as string;
const allocator = () => new PortAllocator(suite.api.ports, () => []);

describe("/api/v1/services/ports", () => {
  test("the admin lists every allocation; a user only its own; no token is 401", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await allocator().allocateForService("alice-app", { name: "http", host: 12500, container: 80 }, hashApiToken(alice));
    await allocator().allocateForService("bob-app", { name: "http", host: 12501, container: 80, bind: "0.0.0.0" }, hashApiToken(bob));
    const all = await suite.api.call("GET", "/api/v1/services/ports");
    expect(all.status).toBe(200);
    expect(all.json.map((a: { host_port: number }) => a.host_port)).toEqual([12500, 12501]);
    const mine = await suite.api.call("GET", "/api/v1/services/ports/", { token: alice });
    expect(mine.json).toEqual([expect.objectContaining({ service_name: "alice-app", host_port: 12500, bind_address: "127.0.0.1", owner_token_hash: hashApiToken(alice) })]);
    expect((await suite.api.call("GET", "/api/v1/services/ports", { token: bob })).json.map((a: { service_name: string }) => a.service_name)).toEqual(["bob-app"]);
    expect((await suite.api.call("GET", "/api/v1/services/ports", { token: null })).status).toBe(401);
  });

  test("available: free [first, last] runs per range, without restricted and allocated ports; ?available_only=true answers the same", async () => {
    await allocator().allocateForService("app", { name: "http", host: 11000, container: 80 }, null);
    await allocator().allocateForService("app", { name: "admin", host: 9500, container: 81 }, null);
    const available = await suite.api.call("GET", "/api/v1/services/ports/available");
    expect(available.status).toBe(200);
    const byKind = Object.fromEntries(available.json.ranges.map((r: { kind: string }) => [r.kind, r]));
    expect(byKind.internal_http.free).toEqual([[9000, 9499], [9501, 9999]]);
    expect(byKind.internal_https.free).toEqual([[10000, 10999]]);
    expect(byKind.exposed.free).toEqual([[11001, 27016], [27018, 65535]]);
    expect(byKind.exposed.free_count).toBe(65535 - 11001 + 1 - 1);
    expect(available.json.restricted.map((r: { port: number }) => r.port)).toEqual([22, 25, 53, 80, 443, 3306, 5432, 6379, 27017]);
    expect((await suite.api.call("GET", "/api/v1/services/ports?available_only=true")).json).toEqual(available.json);
    expect((await suite.api.call("GET", "/api/v1/services/ports?available_only")).json).toEqual(available.json);
    expect((await suite.api.call("GET", "/api/v1/services/ports?available_only=false")).json.map((a: { host_port: number }) => a.host_port)).toEqual([9500, 11000]);
    const bad = await suite.api.call("GET", "/api/v1/services/ports?available_only=maybe");
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: "invalid_parameter", detail: 'available_only: expected true or false, not "maybe"' });
  });

  test("check: free, restricted, allocated (holder named to its owner only), busy on the host", async () => {
    const alice = await newToken("alice");
    const bob = await newToken("bob");
    await allocator().allocateForService("alice-app", { name: "http", host: 12600, container: 80 }, hashApiToken(alice));
    const check = (body: unknown, token?: string) => suite.api.call("POST", "/api/v1/services/ports/check", { body, token });
    expect((await check({ port: 12601 })).json).toEqual({ port: 12601, bind_address: "127.0.0.1", protocol: "tcp", available: true, reason: null, range: "exposed" });
    expect((await check({ port: 5432, bind_address: "0.0.0.0" })).json).toMatchObject({ available: false, reason: "port 5432 is restricted (system reserved: postgresql)", range: null });
    expect((await check({ port: 12600 }, alice)).json.reason).toBe("port 12600 is allocated to service alice-app (port http, 127.0.0.1)");
    expect((await check({ port: 12600 }, bob)).json.reason).toBe("port 12600 is already allocated");
    const held = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const busy = await check({ port: held.port, bind_address: "0.0.0.0" });
      expect(busy.json).toMatchObject({ available: false, range: held.port >= 11000 ? "exposed" : expect.anything() });
      expect(busy.json.reason).toContain(`port ${held.port} is in use on the host`);
    } finally {
      held.stop(true);
    }
    expect((await check({ port: held.port })).json.available).toBe(true);
  });

  test("check refuses a bad port, bind address or protocol with a 400 naming it, and writes nothing", async () => {
    const before = await snapshot(suite.redis);
    const cases: [unknown, string][] = [
      [{ port: 0 }, "port:"],
      [{ port: 65536 }, "port:"],
      [{ port: "11000" }, "port:"],
      [{ port: 11000.5 }, "port:"],
      [{}, "port"],
      [{ port: 11000, bind_address: "localhost" }, "bind_address: expected 127.0.0.1 or 0.0.0.0"],
      [{ port: 11000, bind_address: "::" }, "bind_address:"],
      [{ port: 11000, protocol: "sctp" }, "protocol:"],
    ];
    for (const [body, text] of cases) {
      const answer = await suite.api.call("POST", "/api/v1/services/ports/check", { body });
      expect({ body, status: answer.status, error: typeof answer.json.error, names: String(answer.json.detail).includes(text) }).toEqual({ body, status: 400, error: "string", names: true });
    }
    const extra = await suite.api.call("POST", "/api/v1/services/ports/check", { body: { port: 11000, colour: "red" } });
    expect(extra.status).toBeGreaterThanOrEqual(400);
    expect(extra.status).toBeLessThan(500);
    expect(await snapshot(suite.redis)).toEqual(before);
  });
});
