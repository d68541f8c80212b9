/**
 * The system under test: the compiled dist/portcullis with a private data dir,
 * loopback ports and its embedded redis-server, configured through its REST API
 * exactly as an operator would.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { freePort, makeTempDir, OutputTail, spawnChild, stopChild } from "./processes";
import { waitForHttp } from "./ready";

export const ROOT = resolve(import.meta.dir, "..");
/** BENCH_BINARY measures another build (e.g. the previous one) with the same harness. */
export const BINARY = process.env.BENCH_BINARY ?? join(ROOT, "dist/portcullis");

export interface RunningPortcullis {
  readonly httpPort: number;
  readonly httpsPort: number;
  /** PROXY_PROTOCOL_PORT: the same dispatch behind a PROXY protocol relay. */
  readonly proxyProtocolPort: number;
  readonly apiUrl: string;
  /** PORTCULLIS_DATA_DIR (`portcullis restart` finds the supervisor there). */
  readonly dataDir: string;
  /** POST a JSON body to the admin API; throws unless it answers 201. */
  create(path: string, body: unknown): Promise<Record<string, unknown>>;
  /** POST a JSON body to the admin API; throws unless it answers `expectedStatus`. */
  post(path: string, body: unknown, expectedStatus: number): Promise<Record<string, unknown>>;
  /** Recent output of the gateway (warnings and errors only, LOG_LEVEL=WARNING). */
  output(): string;
  stop(): Promise<void>;
}

/** Builds the binary when it is missing; returns a note when it is older than the sources. */
export async function ensureBinary(): Promise<string | undefined> {
  // Another build was asked for on purpose: it is not built here, and its age says nothing.
  if (process.env.BENCH_BINARY) {
    if (!existsSync(BINARY)) throw new Error(`BENCH_BINARY ${BINARY} does not exist`);
    return `measuring ${BINARY} (BENCH_BINARY)`;
  }
  if (!existsSync(BINARY)) {
    console.log("dist/portcullis is missing: bun run build");
    const child = spawnChild(["bun", "run", "build"], { stdout: "inherit", stderr: "inherit", cwd: ROOT });
    const code = await child.exited;
    if (code !== 0) throw new Error(`bun run build failed (exit ${code})`);
    return undefined;
  }
  const built = statSync(BINARY).mtimeMs;
  for (const pattern of ["src/**/*.ts", "native-tls/**/*.ts", "package.json", "bun.lock"]) {
    for await (const file of new Bun.Glob(pattern).scan({ cwd: ROOT })) {
      if (statSync(join(ROOT, file)).mtimeMs > built) {
        return `dist/portcullis is older than ${file}: these numbers are for the last build (\`just bench\` rebuilds first)`;
      }
    }
  }
  return undefined;
}

/** Starts dist/portcullis (or `binary`) on free ports; `extraEnv` adds or overrides settings (e.g. REDIS_URL). */
export async function startPortcullis(extraEnv: Record<string, string> = {}, binary = BINARY): Promise<RunningPortcullis> {
  const dataDir = makeTempDir("portcullis");
  const httpPort = freePort();
  const apiPort = freePort();
  const httpsPort = freePort();
  const proxyProtocolPort = freePort();
  // The gateway's token format (acm_ + 64 hex); generated here so the bench does not import src/.
  const adminToken = `acm_${randomBytes(32).toString("hex")}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: process.env.HOME ?? dataDir,
    HTTP_PORT: String(httpPort),
    HTTPS_PORT: String(httpsPort),
    API_PORT: String(apiPort),
    PROXY_PROTOCOL_PORT: String(proxyProtocolPort),
    SERVER_HOST: "127.0.0.1",
    PORTCULLIS_DATA_DIR: dataDir,
    ADMIN_TOKEN: adminToken,
    // Per-request logging at info level would be part of the measurement; warnings still show.
    LOG_LEVEL: "WARNING",
    // One process unless a scenario asks for workers (bench/workers.ts): its CPU is read from one pid.
    PORTCULLIS_WORKERS: "0",
    // What every worker gets from its supervisor (src/workers/worker-env.ts ALLOCATOR_DEFAULTS): one process
    // measures what `portcullis serve` runs by default.
    MIMALLOC_PURGE_DELAY: "-1",
    // `HTTP_ENGINE=serve just bench…` measures the Bun.serve engine with the same harness.
    ...(process.env.HTTP_ENGINE ? { HTTP_ENGINE: process.env.HTTP_ENGINE } : {}),
    ...extraEnv,
  };
  const child = spawnChild([binary, "serve"], { env, stdout: "pipe", stderr: "pipe", cwd: dataDir });
  const output = new OutputTail([child.stdout, child.stderr]);
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  try {
    await waitForHttp(`${apiUrl}/health`, child, 30_000);
  } catch (err) {
    await stopChild(child);
    throw new Error(`portcullis did not become healthy: ${(err as Error).message}\n${output.value}`);
  }

  const post = async (path: string, body: unknown, expectedStatus: number) => {
    const response = await fetch(`${apiUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (response.status !== expectedStatus) throw new Error(`POST ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const create = (path: string, body: unknown) => post(path, body, 201);

  return { httpPort, httpsPort, proxyProtocolPort, apiUrl, dataDir, create, post, output: () => output.value, stop: () => stopChild(child) };
}

export const PLAIN_HOST = "bench.local";
export const ROUTES_HOST = "bench-routes.local";
/** The path wrk requests in the routes scenario: it matches the "/api/" route. */
export const ROUTES_PATH = "/api/items";

/** Scenario (a): one proxy target, nothing else. */
export async function configurePlainProxy(gateway: RunningPortcullis, backendUrl: string): Promise<void> {
  await gateway.create("/api/v1/proxy/targets/", { hostname: PLAIN_HOST, target_url: backendUrl });
}

/**
 * Scenario (b): a proxy with custom request and response headers and three
 * proxy-scoped routes, so each request pays for header rewriting and for a
 * route match among several candidates.
 */
export async function configureRoutedProxy(gateway: RunningPortcullis, backendUrl: string): Promise<string[]> {
  await gateway.create("/api/v1/proxy/targets/", {
    hostname: ROUTES_HOST,
    target_url: backendUrl,
    custom_headers: { "X-Bench": "1" },
    custom_response_headers: { "X-Bench-Response": "1" },
  });
  const routeIds: string[] = [];
  for (const [path, priority] of [["/api/", 50], ["/static/", 40], ["/admin/", 30]] as const) {
    const route = await gateway.create("/api/v1/routes/", {
      path_pattern: path,
      target_type: "url",
      target_value: backendUrl,
      priority,
      methods: ["GET"],
      is_regex: false,
      scope: "proxy",
      proxy_hostnames: [ROUTES_HOST],
      description: "bench",
    });
    routeIds.push(String(route.route_id));
  }
  return routeIds;
}
