/**
 * A Docker service delete (without force) raced against creates of a route
 * and a proxy naming the service, against a real Docker API (podman) behind a
 * real gateway. The delete asks the engine before the record goes, a window
 * of many milliseconds; the events stream (commits in order) shows whether a
 * delete went through after a route or proxy to the service was stored: it
 * never may.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseStreamEntry } from "../../src/orchestration/events";
import { keys } from "../../src/storage/keys";
import { startTestDockerEngine, TEST_IMAGE, type TestDockerEngine } from "../helpers/docker-engine";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let engine: TestDockerEngine;
let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  [engine, redis] = await Promise.all([startTestDockerEngine(), startTestRedis()]);
  gw = await startTestGateway(redis, { DOCKER_HOST: engine.dockerHost, BASE_DOMAIN: "svc.test" });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([engine?.stop(), redis?.stop()]);
});

async function eventPositions(): Promise<Map<string, number>> {
  const entries = ((await redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][]).map(parseStreamEntry);
  const positions = new Map<string, number>();
  entries.forEach((event, i) => {
    const data = (event.data ?? {}) as Record<string, unknown>;
    positions.set(`${event.event_type}:${String(data.route_id ?? data.name ?? event.hostname ?? "")}`, i);
  });
  return positions;
}

describe("deleting a Docker service while routes and proxies to it are created", () => {
  test("the delete is refused, or it committed before the route and the proxy were stored", async () => {
    const outcomes = { refused: 0, deletedFirst: 0 };
    const violations: string[] = [];
    // The creates start `delay` ms after the delete: too early and the delete is refused, too late and it has committed.
    // The delay moves until both have happened (a loaded machine shifts where the window is), then keeps moving across it.
    let delay = 0;
    for (let i = 0; i < 16 && !(i >= 6 && outcomes.refused > 0 && outcomes.deletedFirst > 0); i++) {
      const name = `dr-${i}`;
      expect((await gw.api("POST", "/api/v1/services/", { service_name: name, image: TEST_IMAGE, internal_port: 8080 })).status).toBe(201);
      expect((await gw.api("POST", `/api/v1/services/${name}/stop`)).status).toBe(200);
      const [route, proxy, deleted] = await Promise.all([
        Bun.sleep(delay).then(() => gw.api("POST", "/api/v1/routes/", { route_id: `to-${name}`, path_pattern: `/${name}/`, target_type: "service", target_value: name })),
        Bun.sleep(delay).then(() => gw.api("POST", "/api/v1/proxy/targets/", { hostname: `${name}.svc.test`, target_url: `service:${name}`, enable_https: false })),
        gw.api("DELETE", `/api/v1/services/${name}`),
      ]);
      expect([route.status, proxy.status]).toEqual([201, 201]);
      if (deleted.status === 409) {
        outcomes.refused++;
        delay = delay === 0 ? 10 : Math.min(delay * 2, 5_000);
        // It names what it saw: the route, the proxy, or both (whichever was stored first).
        expect(deleted.json.detail).toMatch(new RegExp(`is used by .*(to-${name}|${name}\\.svc\\.test)`));
        // Refused means untouched: the record and the container are still there.
        expect(await redis.client.exists(keys.dockerService(name))).toBe(1);
        expect(await engine.containersOf(name)).toEqual([`portcullis-${name}`]);
        continue;
      }
      expect([deleted.status, deleted.json.detail]).toEqual([200, undefined]);
      outcomes.deletedFirst++;
      delay = Math.floor(delay / 3);
      const at = await eventPositions();
      const deletedAt = at.get(`service_url_changed:${name}`)!;
      if (at.get(`route_created:to-${name}`)! < deletedAt) violations.push(`route to-${name} was stored before ${name} was deleted`);
      if (at.get(`proxy_created:${name}.svc.test`)! < deletedAt) violations.push(`proxy ${name}.svc.test was stored before ${name} was deleted`);
      expect(await engine.containersOf(name)).toEqual([]);
    }
    expect(violations).toEqual([]);
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(outcomes.deletedFirst).toBeGreaterThan(0);
  }, 240_000);
});
