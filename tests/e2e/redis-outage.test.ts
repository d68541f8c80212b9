/**
 * An external Redis (REDIS_URL) that is missing at start, or goes away while the
 * gateway runs: the gateway retries with backoff and says so, never crashes,
 * answers 503 meanwhile, and recovers by itself.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { ensureBinary, startGatewayProcess, tempDataDir } from "../helpers/gateway-process";
import { freePort } from "../helpers/ports";

const PASSWORD = "outage-test-password";
const ADMIN = "acm_outage_admin_token_0123456789";

function startRedisOn(port: number) {
  return Bun.spawn(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", PASSWORD, "--dir", tempDataDir()],
    { stdout: "ignore", stderr: "ignore" },
  );
}

beforeAll(() => ensureBinary(), 120_000);

describe("external redis", () => {
  test("unreachable at start: retries with logged backoff, then serves once it appears", async () => {
    const port = await freePort();
    const gateway = await startGatewayProcess({
      dataDir: tempDataDir(),
      env: { REDIS_URL: `redis://127.0.0.1:${port}/0`, REDIS_PASSWORD: PASSWORD, ADMIN_TOKEN: ADMIN },
    });
    let redis: ReturnType<typeof startRedisOn> | undefined;
    try {
      await gateway.waitForOutput(/"attempt":3,[^\n]*redis unreachable, retrying/);
      expect(gateway.child.exitCode).toBeNull();
      expect(gateway.output()).not.toContain(PASSWORD);
      expect(gateway.output()).toContain(`redis://127.0.0.1:${port}/0`);

      redis = startRedisOn(port);
      await gateway.waitForHealthy(20_000);
      const info = await fetch(`${gateway.apiUrl}/api/v1/tokens/info`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(((await info.json()) as any).name).toBe("admin");
    } finally {
      await gateway.stop();
      redis?.kill("SIGKILL");
    }
  });

  test("lost while running: 503 with a JSON error, then recovery without a restart", async () => {
    const port = await freePort();
    let redis = startRedisOn(port);
    const gateway = await startGatewayProcess({
      dataDir: tempDataDir(),
      env: { REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}/0`, ADMIN_TOKEN: ADMIN },
    });
    try {
      await gateway.waitForHealthy();
      redis.kill("SIGKILL");
      await redis.exited;

      const health = await fetch(`${gateway.apiUrl}/health`);
      expect(health.status).toBe(503);
      expect((await health.json()) as any).toMatchObject({ status: "degraded", redis: "unreachable" });
      const tokens = await fetch(`${gateway.apiUrl}/api/v1/tokens/`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(tokens.status).toBe(503);
      expect((await tokens.json()) as any).toEqual({ error: "unavailable", detail: "storage is unreachable; retry shortly" });
      expect(gateway.child.exitCode).toBeNull();

      redis = startRedisOn(port);
      await gateway.waitForHealthy(20_000);
      // The data was in a non-persistent redis; the admin token is re-created on the next start only,
      // so an unknown bearer is 401 here, which proves the API talks to Redis again.
      const after = await fetch(`${gateway.apiUrl}/api/v1/tokens/`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(after.status).toBe(401);
    } finally {
      await gateway.stop();
      redis.kill("SIGKILL");
    }
  });

  test("redis-server missing for the embedded default: the error says how to install it", async () => {
    const gateway = await startGatewayProcess({ dataDir: tempDataDir(), env: { REDIS_SERVER_BIN: "/nonexistent/redis-server" } });
    expect(await gateway.child.exited).toBe(1);
    expect(gateway.output()).toContain("apt-get install redis-server");
    expect(gateway.output()).toContain("REDIS_URL");
  });
});
