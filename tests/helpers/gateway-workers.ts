/**
 * The TestGateway of gateway-in-process.ts backed by the compiled binary with
 * PORTCULLIS_WORKERS ≥ 1: a supervisor and its worker processes sharing the
 * ports, so a test written for one gateway runs unchanged against workers
 * (`startTestGateway(redis, env, { workers: 2 })`).
 */
import type { Gateway } from "../../src/gateway";
import { callApi, GATEWAY_ADMIN, type TestGateway } from "./gateway-in-process";
import { ensureBinary, servingPorts, startGatewayProcess, type RunningGateway } from "./gateway-process";
import type { TestRedis } from "./redis-server";
import { tempDir } from "./temp";

export const WORKERS_SERVING = /^\{.*"msg":"portcullis workers are serving".*\}$/m;

export async function startWorkerTestGateway(redis: TestRedis, env: Record<string, string>, workers: number): Promise<TestGateway & { readonly process: RunningGateway }> {
  await ensureBinary();
  const running = await startGatewayProcess({
    dataDir: tempDir("gateway"),
    env: {
      REDIS_URL: redis.url,
      ADMIN_TOKEN: GATEWAY_ADMIN,
      LOG_LEVEL: "INFO",
      ...(process.env.TEST_HTTP_ENGINE ? { HTTP_ENGINE: process.env.TEST_HTTP_ENGINE } : {}),
      ...env,
      PORTCULLIS_WORKERS: String(workers),
    },
  });
  await running.waitForOutput(WORKERS_SERVING, 60_000);
  const ports = servingPorts(running.output())!;
  const apiBase = `http://127.0.0.1:${ports.apiPort}`;
  const edge = `http://127.0.0.1:${ports.httpPort}`;
  const gateway: Gateway = {
    apiPort: ports.apiPort,
    httpPort: ports.httpPort,
    httpsPort: ports.httpsPort,
    proxyProtocolPort: ports.proxyProtocolPort,
    metricsPort: 0,
    // Each worker drains its own TLS servers; servedEverywhere asks many new connections instead.
    httpsDraining: false,
    redis: redis.client,
    async stop() {
      const code = await running.stop();
      if (code !== 0) throw new Error(`the supervisor exited with ${code}:\n${running.output().slice(-4000)}`);
    },
  };
  return {
    gateway,
    edge,
    workers,
    process: running,
    api: (method, path, body) => callApi(apiBase, GATEWAY_ADMIN, method, path, body),
    apiAs: (token, method, path, body) => callApi(apiBase, token, method, path, body),
    get: (host, path = "/", init = {}) => fetch(edge + path, { ...init, headers: { ...(init.headers as Record<string, string>), host } }),
    stop: () => gateway.stop(),
  };
}
