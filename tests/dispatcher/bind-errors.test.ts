/**
 * A bind that fails names the variable to change: the address variable for an
 * address this machine does not have, the port variable for a busy port.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
}, 30_000);
afterAll(async () => {
  await redis.stop();
}, 30_000);

// 192.0.2.1 (TEST-NET-1) is never an address of this machine: binding it fails with EADDRNOTAVAIL.
const ELSEWHERE = "192.0.2.1";
const failureOf = (env: Record<string, string>) =>
  startTestGateway(redis, env).then(
    async (gateway) => {
      await gateway.stop();
      return "started";
    },
    (err: Error) => err.message,
  );

test("SERVER_HOST that is not a local address: the message names SERVER_HOST, not the port", async () => {
  expect(await failureOf({ SERVER_HOST: ELSEWHERE })).toBe(
    "SERVER_HOST: the address is not one of this machine's (EADDRNOTAVAIL) while binding HTTP_PORT; set SERVER_HOST to a local address, or 0.0.0.0 for all",
  );
}, 30_000);

test("API_BIND that is not a local address: the message names API_BIND", async () => {
  expect(await failureOf({ API_BIND: ELSEWHERE })).toMatch(/^API_BIND: the address is not one of this machine's \(EADDRNOTAVAIL\) while binding API_PORT/);
}, 30_000);

test("METRICS_BIND that is not a local address: the message names METRICS_BIND", async () => {
  expect(await failureOf({ METRICS_PORT: "any", METRICS_BIND: ELSEWHERE })).toMatch(/^METRICS_BIND: the address is not one of this machine's/);
}, 30_000);

test("a busy HTTP_PORT names HTTP_PORT", async () => {
  const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    expect(await failureOf({ HTTP_PORT: String(busy.port) })).toBe(
      "HTTP_PORT: the port is already in use by another process; stop it or choose another HTTP_PORT",
    );
  } finally {
    busy.stop(true);
  }
}, 30_000);

test("a second gateway on the same HTTP_PORT and API_PORT is refused, not let in beside the first (no SO_REUSEPORT)", async () => {
  const first = await startTestGateway(redis);
  try {
    expect(await failureOf({ HTTP_PORT: String(first.gateway.httpPort) })).toBe(
      "HTTP_PORT: the port is already in use by another process; stop it or choose another HTTP_PORT",
    );
    expect(await failureOf({ API_PORT: String(first.gateway.apiPort) })).toMatch(/^API_PORT: the port is already in use/);
  } finally {
    await first.stop();
  }
}, 30_000);
