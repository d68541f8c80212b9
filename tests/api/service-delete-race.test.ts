/**
 * A service delete without force and route/proxy creates naming the service,
 * raced against each other many times. The events stream records commits in
 * order, so it shows whether a delete went through after a route or proxy to
 * the service was already stored: it never may (the in-use check and the
 * delete are one transaction). A route or proxy stored after the delete is
 * allowed (it answers 502, as with force).
 */
import { describe, expect, test } from "bun:test";
import { parseStreamEntry } from "../../src/orchestration/events";
import { keys } from "../../src/storage/keys";
import { retriedDelete, inUseGuard } from "../../src/api/service-in-use";
import type { Caller } from "../../src/api/caller";
import { ServiceRepository } from "../../src/storage/service-repository";
import { useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const ITERATIONS = 150;

/** Position in the events stream of each (event_type, id) pair. */
async function eventPositions(): Promise<Map<string, number>> {
  const entries = ((await suite.redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][]).map(parseStreamEntry);
  const positions = new Map<string, number>();
  entries.forEach((event, i) => {
    const data = (event.data ?? {}) as Record<string, unknown>;
    const id = String(data.route_id ?? data.name ?? event.hostname ?? "");
    positions.set(`${event.event_type}:${id}`, i); // the last one wins: a service's delete comes after its create
  });
  return positions;
}

describe("deleting an external service while routes and proxies to it are created", () => {
  test("a delete never succeeds after a route or proxy to the service was stored", async () => {
    const outcomes = { refused: 0, deletedFirst: 0 };
    const violations: string[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const name = `race-${i}`;
      expect((await suite.api.call("POST", "/api/v1/services/external", { body: { service_name: name, target_url: "http://127.0.0.1:4000" } })).status).toBe(201);
      // Stagger the three requests a little differently each time, so every interleaving comes up.
      const after = (ms: number) => (ms === 0 ? Promise.resolve() : Bun.sleep(ms));
      const [route, proxy, deleted] = await Promise.all([
        after(i % 3).then(() => suite.api.call("POST", "/api/v1/routes/", { body: { route_id: `to-${name}`, path_pattern: `/${name}/`, target_type: "service", target_value: name } })),
        after((i >> 1) % 3).then(() => suite.api.call("POST", "/api/v1/proxy/targets/", { body: { hostname: `${name}.example.com`, target_url: `service:${name}` } })),
        suite.api.call("DELETE", `/api/v1/services/external/${name}`),
      ]);
      expect([route.status, proxy.status]).toEqual([201, 201]);
      if (deleted.status === 409) {
        outcomes.refused++;
        expect(deleted.json.error).toBe("conflict");
        expect(await suite.redis.client.exists(keys.serviceExternal(name))).toBe(1);
        continue;
      }
      expect(deleted.status).toBe(200);
      outcomes.deletedFirst++;
      const at = await eventPositions();
      const deletedAt = at.get(`service_url_changed:${name}`)!;
      if (at.get(`route_created:to-${name}`)! < deletedAt) violations.push(`route to-${name} was stored before ${name} was deleted`);
      if (at.get(`proxy_created:${name}.example.com`)! < deletedAt) violations.push(`proxy ${name}.example.com was stored before ${name} was deleted`);
    }
    expect(violations).toEqual([]);
    // Both orders happened, so the race was really run.
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(outcomes.deletedFirst).toBeGreaterThan(0);
  }, 60_000);
});

describe("a delete whose routes keep changing", () => {
  test("is tried again, and after every attempt lost answers 409 (try again) with nothing deleted", async () => {
    expect((await suite.api.call("POST", "/api/v1/services/external", { body: { service_name: "busy", target_url: "http://127.0.0.1:4000" } })).status).toBe(201);
    const services = new ServiceRepository(suite.redis.client);
    const admin = { hash: "h", name: "admin", isAdmin: true } as unknown as Caller;
    const check = inUseGuard(admin, "busy", { force: false, deleteOwnProxies: false }, []);
    let attempts = 0;
    // Another writer adds a route (to another service) between every check and its commit.
    const guard: typeof check = async (conn, tx) => {
      await check(conn, tx);
      attempts++;
      await suite.redis.client.sadd(keys.routeIds, `other-${attempts}`);
    };
    const refused = await retriedDelete("busy", () => services.delete("busy", guard)).catch((error) => error);
    expect([refused.status, refused.code]).toEqual([409, "conflict"]);
    expect(refused.detail).toContain("kept changing");
    expect(attempts).toBe(5);
    expect(await suite.redis.client.exists(keys.serviceExternal("busy"), keys.serviceUrl("busy"))).toBe(2);
  });
});
