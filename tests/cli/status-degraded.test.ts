/** `portcullis status` while the gateway's Redis is unreachable: it says so and exits 1. */
import { expect, test } from "bun:test";
import { runProgram } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway } from "../helpers/gateway-in-process";
import { startTestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

test("Redis down: the status shows degraded and the command exits 1", async () => {
  const redis = await startTestRedis();
  const gw = await startTestGateway(redis);
  const apiUrl = `http://127.0.0.1:${gw.gateway.apiPort}`;
  try {
    await redis.stop();
    const run = await runProgram(apiUrl, GATEWAY_ADMIN, ["status"], tempDir("status-home"));
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("Gateway:      degraded (redis unreachable)\nCounts:       unknown while Redis is unreachable\n");
    expect(run.stderr).toBe("portcullis: the gateway is degraded: Redis is unreachable\n");
    const json = await runProgram(apiUrl, GATEWAY_ADMIN, ["status", "--format", "json"], tempDir("status-home"));
    expect(JSON.parse(json.stdout)).toEqual({ health: { status: "degraded", redis: "unreachable" }, counts: null, certificates: [] });
  } finally {
    await Promise.race([gw.stop(), Bun.sleep(10_000)]);
  }
}, 40_000);
