/**
 * A whole gateway (API, live config, HTTP edge, forwarding engine) started in
 * this process on loopback ports it binds itself (port 0: whatever the kernel
 * gives; the Gateway object says which), against a test Redis.
 */
import pino from "pino";
import { parseConfig } from "../../src/core/config";
import { createLogger } from "../../src/core/logger";
import { startGateway, type Gateway } from "../../src/gateway";
import { peerCertificate } from "./test-ca";
import type { TestRedis } from "./redis-server";
import { tempDir } from "./temp";
import { startWorkerTestGateway } from "./gateway-workers";

export const GATEWAY_ADMIN = "acm_in_process_admin_token_000000";

export interface TestGateway {
  readonly gateway: Gateway;
  readonly edge: string;
  /** Calls the REST API as the admin; JSON in and out. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** The same with another token (a second user, for ownership tests). */
  apiAs(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
  /** A request to the edge for `host`. */
  get(host: string, path?: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
  /** Set when the gateway is a supervisor with this many worker processes (gateway-workers.ts). */
  readonly workers?: number;
}

/** The gateway shapes a test can run against unchanged: one process, and a supervisor with two workers sharing the ports. */
export const GATEWAY_WORKER_COUNTS = [0, 2] as const;

/**
 * `logLines`, when given, collects every log line (debug and up) as the gateway writes it.
 * `workers` ≥ 1 runs the compiled binary as a supervisor of that many workers instead (no logLines then).
 */
export async function startTestGateway(
  redis: TestRedis,
  env: Record<string, string> = {},
  options: { logLines?: string[]; workers?: number } = {},
): Promise<TestGateway> {
  if (options.workers) return startWorkerTestGateway(redis, env, options.workers);
  const config = parseConfig({
    REDIS_URL: redis.url,
    ADMIN_TOKEN: GATEWAY_ADMIN,
    SERVER_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    HTTPS_PORT: "0",
    API_PORT: "0",
    // Not the default 10001: test gateways run side by side. (0 would turn it off.)
    PROXY_PROTOCOL_PORT: "any",
    PORTCULLIS_DATA_DIR: tempDir("gateway"),
    // New proxies would otherwise ask a public CA for certificates; ACME tests turn it on.
    AUTO_CERTIFICATES: "false",
    // tests/security/serve-engine.test.ts runs the security suite again on HTTP_ENGINE=serve.
    ...(process.env.TEST_HTTP_ENGINE ? { HTTP_ENGINE: process.env.TEST_HTTP_ENGINE } : {}),
    ...env,
  });
  const lines = options.logLines;
  const log = lines ? createLogger("debug", { write: (line: string) => void lines.push(line) }) : pino({ level: "silent" });
  const gateway = await startGateway(config, log);
  const apiBase = `http://127.0.0.1:${gateway.apiPort}`;
  const edge = `http://127.0.0.1:${gateway.httpPort}`;
  return {
    gateway,
    edge,
    api(method, path, body) {
      return callApi(apiBase, GATEWAY_ADMIN, method, path, body);
    },
    apiAs(token, method, path, body) {
      return callApi(apiBase, token, method, path, body);
    },
    get(host, path = "/", init = {}) {
      return fetch(edge + path, { ...init, headers: { ...(init.headers as Record<string, string>), host } });
    },
    stop: () => gateway.stop(),
  };
}

export async function callApi(apiBase: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(apiBase + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** A backend that answers with its name and what it received. */
export function namedBackend(name: string) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) =>
      Response.json({
        backend: name,
        path: new URL(req.url).pathname + new URL(req.url).search,
        host: req.headers.get("host"),
        headers: Object.fromEntries(req.headers),
      }),
  });
}

/**
 * Polls until every gateway serves the certificate with `fingerprint` for
 * `serverName` on every new connection (no TLS server from before the change
 * still accepts); returns the milliseconds it took.
 */
export async function servedEverywhere(gateways: readonly TestGateway[], serverName: string, fingerprint: string, timeoutMs = 2_000): Promise<number> {
  const start = performance.now();
  for (const { gateway, workers } of gateways) {
    // With workers the kernel picks one per connection: that many in a row all served the new certificate (1 in 2^15 to miss one of 2).
    const inARow = workers ? 16 : 1;
    for (let seen = 0; seen < inARow; ) {
      const served = !gateway.httpsDraining && (await peerCertificate(gateway.httpsPort, serverName)).fingerprint256 === fingerprint;
      seen = served ? seen + 1 : 0;
      if (served) continue;
      if (performance.now() - start > timeoutMs) throw new Error(`${serverName} not served with the expected certificate within ${timeoutMs} ms`);
      await Bun.sleep(2);
    }
  }
  return performance.now() - start;
}
