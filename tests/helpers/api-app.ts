/**
 * The real API app wired to a real (test) Redis, driven in-process with
 * `app.handle(new Request(...))`.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { randomBytes } from "node:crypto";
import pino from "pino";
import { createApiApp } from "../../src/api/app";
import { createAuthorizationServer } from "../../src/auth/authorization-server";
import { GitHubApps } from "../../src/auth/upstream/github-apps";
import { ensureAdminToken } from "../../src/api/admin-token-bootstrap";
import { CertificateManager } from "../../src/certificates/certificate-manager";
import { parseConfig } from "../../src/core/config";
import { MCP_SCOPES } from "../../src/core/oauth-config";
import { SecretBox } from "../../src/core/secret-box";
import { createStores } from "../../src/storage/stores";
import { proxyCertificateHandler } from "../../src/certificates/proxy-certificate-workflow";
import { WorkflowConsumer } from "../../src/orchestration/workflow-consumer";
import { WorkflowTickets } from "../../src/orchestration/workflow-tickets";
import { startTestRedis, type TestRedis } from "./redis-server";

export const ADMIN = "acm_test_admin_token_0123456789abcdef";

/** Harnesses whose workflow consumer still runs; useApiHarness stops them after each test. */
const running = new Set<{ stop(): Promise<void> }>();

/** Stops the workflow consumers of every harness started so far (what `stop()` of each does). */
export async function stopApiHarnesses(): Promise<void> {
  await Promise.all([...running].map((harness) => harness.stop()));
}

/**
 * `env` sets certificate manager variables; new proxies request no
 * certificates unless it says AUTO_CERTIFICATES=true. The manager's workers
 * do not run: ACME requests wait in Redis. A workflow consumer runs (as on a
 * gateway node), so a new proxy's certificate is signed or requested; `stop()` ends it.
 */
export async function apiHarness(redis: TestRedis, env: Record<string, string> = {}) {
  const stores = createStores(redis.client);
  const { tokens, ownership } = stores;
  const log = pino({ level: "silent" });
  await ensureAdminToken({ tokens, configuredToken: ADMIN, dataDir: "/nonexistent", log });
  const config = parseConfig({ AUTO_CERTIFICATES: "false", ...env });
  const certificateManager = new CertificateManager({
    redis: redis.client,
    certificates: stores.certificates,
    settings: config.certificates,
    httpPort: 80,
    selfSignedDays: 30,
    adminEmail: "admin@example.test",
    log,
  });
  // A fresh key per harness: what one test seals, no other test can open.
  const secretsKey = new Uint8Array(randomBytes(32));
  const secretBox = new SecretBox(secretsKey);
  // The OAuth admin API works on a real authorization server; every resource counts as served here.
  const authorizationServer = createAuthorizationServer({ redis: redis.client, settings: config.oauth, proxies: stores.proxies, secretsKey, servesHost: () => true, liveProxy: () => null, scopes: { all: () => MCP_SCOPES, forHost: () => [] }, log });
  await authorizationServer.start();
  const githubApps = new GitHubApps(stores.proxies, secretBox, config.oauth.github);
  const workflowTickets = new WorkflowTickets(redis.client);
  const workflow = new WorkflowConsumer({
    redis: redis.client,
    handlers: new Map([["proxy_created", proxyCertificateHandler({ proxies: stores.proxies, manager: certificateManager, log })]]),
    settings: config.workflow,
    log,
    nodeId: "api-harness",
  });
  await workflowTickets.start();
  await workflow.start();
  const lifecycle = {
    async stop() {
      running.delete(lifecycle);
      await workflow.stop();
      workflowTickets.stop();
    },
  };
  running.add(lifecycle);
  const app = createApiApp({ ...stores, certificateManager, workflowTickets, githubApps, oauth: authorizationServer.context, redis: redis.client, log, startedAt: Date.now(), apiHostnames: ["localhost"], cluster: config.cluster });

  const call = async (method: string, path: string, options: { token?: string | null; body?: unknown; raw?: string } = {}) => {
    const headers: Record<string, string> = {};
    const token = options.token === undefined ? ADMIN : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (options.raw !== undefined || options.body !== undefined) {
      headers["content-type"] = "application/json";
      body = options.raw ?? JSON.stringify(options.body);
    }
    const response = await app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
    const text = await response.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.status, json, headers: response.headers };
  };

  return { app, ...stores, certificateManager, workflow, githubApps, secretBox, authorizationServer, tokens, ownership, call, stop: lifecycle.stop };
}

/** Every key and its value: to prove a rejected request wrote nothing. */
export async function snapshot(redis: TestRedis): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of (await redis.client.keys("*")).sort()) {
    const type = await redis.client.type(key);
    if (type === "string") out[key] = (await redis.client.get(key)) ?? "";
    else if (type === "set") out[key] = JSON.stringify((await redis.client.smembers(key)).sort());
    else if (type === "stream") out[key] = JSON.stringify(await redis.client.xrange(key, "-", "+"));
    else out[key] = type;
  }
  return out;
}

export type ApiHarness = Awaited<ReturnType<typeof apiHarness>>;

/**
 * Registers the usual hooks of an API test file: one test Redis for the file,
 * emptied before each test, and a fresh harness on it (`env` as for apiHarness).
 */
export function useApiHarness(env: Record<string, string> = {}): { redis: TestRedis; api: ApiHarness } {
  const suite = {} as { redis: TestRedis; api: ApiHarness };
  beforeAll(async () => {
    suite.redis = await startTestRedis();
  });
  afterAll(() => suite.redis.stop());
  // Before the next test empties Redis: a consumer left running would recreate the group under it.
  afterEach(() => stopApiHarnesses());
  beforeEach(async () => {
    await suite.redis.client.flushdb();
    suite.api = await apiHarness(suite.redis, env);
  });
  return suite;
}
