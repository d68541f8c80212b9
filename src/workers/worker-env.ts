/**
 * What a supervisor tells a worker process, through its environment. Pure:
 * the supervisor builds it, the worker reads it back (readWorkerRole).
 */

/** Marks a process as a worker and says which one (0-based). */
export const WORKER_INDEX_VAR = "PORTCULLIS_WORKER_INDEX";
/** The supervisor's embedded Redis (a unix socket): workers connect, never start one. */
export const WORKER_REDIS_SOCKET_VAR = "PORTCULLIS_WORKER_REDIS_SOCKET";
export const WORKER_REDIS_PASSWORD_VAR = "PORTCULLIS_WORKER_REDIS_PASSWORD";
/**
 * The runtime's allocator (mimalloc) hands freed memory back to the system
 * 10 ms after it is freed, and a busy worker faults it straight back in: about
 * 0.4 page faults per proxied request, and about 5 % of a worker's CPU per
 * request (bench/setting-ab.ts, docs/benchmarks.md). -1 keeps what a worker
 * has freed for it to reuse; a delay of 1 or 10 s removed too few of the
 * faults to matter. The cost: a worker's resident memory stays at the peak it
 * reached. mimalloc reads the variable when a process starts, so only a
 * supervisor can set it for its workers; an operator's own value wins.
 */
export const ALLOCATOR_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({ MIMALLOC_PURGE_DELAY: "-1" });

/** Set by the supervisor only: a typo warning for them would be noise in every worker's log. */
export const WORKER_VARIABLES = [WORKER_INDEX_VAR, WORKER_REDIS_SOCKET_VAR, WORKER_REDIS_PASSWORD_VAR] as const;

export interface WorkerRole {
  readonly index: number;
  /** Set when the supervisor runs the embedded Redis; otherwise the worker uses REDIS_URL like any node. */
  readonly embeddedRedis?: { readonly path: string; readonly password: string };
}

/** The ports the supervisor checked and resolved (0 = any becomes the port it found free). */
export interface WorkerPorts {
  readonly HTTP_PORT: number;
  readonly HTTPS_PORT: number;
  readonly API_PORT: number;
  /** Absent: off. */
  readonly PROXY_PROTOCOL_PORT?: number;
  readonly METRICS_PORT?: number;
}

/** A worker's NODE_ID: the node's, suffixed, so request records and the cluster registry tell workers apart. */
export function workerNodeId(nodeId: string, index: number): string {
  const suffix = `-w${index}`;
  // NODE_ID allows 64 characters; the suffix must fit.
  return nodeId.slice(0, 64 - suffix.length) + suffix;
}

export function workerEnv(
  env: Readonly<Record<string, string | undefined>>,
  worker: { readonly index: number; readonly nodeId: string; readonly ports: WorkerPorts; readonly embeddedRedis?: WorkerRole["embeddedRedis"] },
): Record<string, string> {
  const out: Record<string, string> = { ...ALLOCATOR_DEFAULTS };
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value;
  for (const [name, port] of Object.entries(worker.ports)) if (port !== undefined) out[name] = String(port);
  out.NODE_ID = workerNodeId(worker.nodeId, worker.index);
  out[WORKER_INDEX_VAR] = String(worker.index);
  delete out[WORKER_REDIS_SOCKET_VAR];
  delete out[WORKER_REDIS_PASSWORD_VAR];
  if (worker.embeddedRedis) {
    out[WORKER_REDIS_SOCKET_VAR] = worker.embeddedRedis.path;
    out[WORKER_REDIS_PASSWORD_VAR] = worker.embeddedRedis.password;
  }
  return out;
}

/** This process's role: null for a supervisor or a gateway without one. */
export function readWorkerRole(env: Readonly<Record<string, string | undefined>>): WorkerRole | null {
  const raw = env[WORKER_INDEX_VAR];
  if (raw === undefined || !/^\d+$/.test(raw)) return null;
  const path = env[WORKER_REDIS_SOCKET_VAR];
  const password = env[WORKER_REDIS_PASSWORD_VAR];
  return { index: Number(raw), embeddedRedis: path && password !== undefined ? { path, password } : undefined };
}
