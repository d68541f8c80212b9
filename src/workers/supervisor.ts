/**
 * `portcullis serve` with PORTCULLIS_WORKERS ≥ 1: a small supervisor that owns
 * what exists once per machine (the data-dir lock, the embedded Redis, the
 * admin-token bootstrap, the port check) and runs N worker processes of the
 * same executable, each a full gateway node sharing the ports (SO_REUSEPORT).
 *
 * - A worker that exits unexpectedly is started again after a backoff
 *   (restart-policy.ts); too many crashes in a window stop the supervisor (exit 1).
 * - SIGHUP: zero-downtime restart. N new workers start from the binary on disk
 *   now and bind next to the old ones; once every new one is ready, the old ones
 *   get SIGTERM and drain (Connection: close, then stop) as a lone gateway does.
 * - SIGTERM/SIGINT: every worker drains and stops, then Redis and the lock; exit 0.
 */
import type { Config } from "../core/config";
import type { Logger } from "../core/logger";
import { ensureAdminToken } from "../api/admin-token-bootstrap";
import { loadSecretsKey } from "../core/secret-box";
import { openGatewayStorage, type GatewayStorage } from "../storage/gateway-storage";
import { connectRedis, describe, waitUntilReady } from "../storage/redis-connection";
import { createStores } from "../storage/stores";
import { checkAndResolvePorts } from "./port-check";
import { RestartPolicy } from "./restart-policy";
import { removeStatus, writeStatus, type WorkersStatus } from "./status-file";
import { workerEnv, workerNodeId, type WorkerPorts } from "./worker-env";
import { selfCommand, spawnWorker, type WorkerProcess } from "./worker-process";

/** A new generation that is not serving by then is given up (the old one keeps serving). */
const READY_TIMEOUT_MS = 60_000;
/** Workers still running this long after SIGTERM are killed (their own drain and grace take ≈12 s at most). */
const STOP_TIMEOUT_MS = 30_000;

export async function runSupervisor(config: Config, log: Logger, env: Readonly<Record<string, string | undefined>> = process.env): Promise<void> {
  const fail = (message: string, storage?: GatewayStorage): Promise<never> => {
    log.fatal({ err: message }, "portcullis could not start");
    process.stderr.write(`portcullis: ${message}\n`);
    log.flush();
    return (storage?.close() ?? Promise.resolve()).then(() => process.exit(1));
  };

  let storage: GatewayStorage;
  try {
    storage = await openGatewayStorage(config, log);
  } catch (err) {
    return fail((err as Error).message);
  }
  let ports: WorkerPorts;
  try {
    await bootstrapOnce(config, log, storage);
    ports = checkAndResolvePorts(config);
  } catch (err) {
    return fail((err as Error).message, storage);
  }

  const command = selfCommand(process.execPath, process.argv);
  const count = config.workers;
  const policy = new RestartPolicy();
  let generation = 1;
  let slots: WorkerProcess[] = [];
  let restarting: WorkerProcess[] | null = null;
  let lastRestart: WorkersStatus["last_restart"] = null;
  let attempts = 0;
  let stopping = false;
  // Until every first worker serves, an exit is a start-up failure (handled below) and SIGHUP has nothing to restart.
  let serving = false;
  const respawnTimers = new Set<ReturnType<typeof setTimeout>>();

  const start = (index: number, ofGeneration = generation): WorkerProcess => {
    const worker = spawnWorker(command, workerEnv(env, { index, nodeId: config.observability.nodeId, ports, embeddedRedis: storage.embedded }), index);
    log.info({ worker: index, pid: worker.pid, generation: ofGeneration }, "worker started");
    void worker.exited.then((code) => onExit(worker, code));
    return worker;
  };

  const status = () =>
    writeStatus(config.dataDir, {
      supervisor_pid: process.pid,
      generation,
      restarting: restarting !== null,
      restart_attempts: attempts,
      workers: slots.map((w) => ({ index: w.index, pid: w.pid, node_id: workerNodeId(config.observability.nodeId, w.index) })),
      last_restart: lastRestart,
    });

  const onExit = (worker: WorkerProcess, code: number) => {
    // Exits the supervisor asked for (shutdown, a retired generation) or a new generation that never came up (restart handles it).
    if (!serving || stopping || slots[worker.index] !== worker) return;
    log.error({ worker: worker.index, pid: worker.pid, exit_code: code }, "worker exited unexpectedly");
    const decision = policy.onCrash(Date.now());
    if (decision.action === "give-up") {
      const message = `workers keep crashing: ${decision.recentCrashes} unexpected exits within ${decision.windowMs / 1000} s (the last: worker ${worker.index}, pid ${worker.pid}, exit code ${code}); stopping. See the workers' log lines above.`;
      log.fatal({ crashes: decision.recentCrashes, window_seconds: decision.windowMs / 1000 }, message);
      process.stderr.write(`portcullis: ${message}\n`);
      void shutdown("crash loop", 1);
      return;
    }
    log.warn({ worker: worker.index, delay_ms: decision.delayMs, recent_crashes: decision.recentCrashes }, "restarting the worker");
    const timer = setTimeout(() => {
      respawnTimers.delete(timer);
      if (stopping || slots[worker.index] !== worker) return;
      const replacement = start(worker.index);
      slots[worker.index] = replacement;
      status();
      void replacement.ready.then(() => log.info({ worker: worker.index, pid: replacement.pid }, "worker restarted and serving"));
      // A replacement that hangs on its way up is a crash too (its exit goes through onExit and the policy).
      const hung = setTimeout(() => {
        if (replacement.isReady || slots[worker.index] !== replacement) return;
        log.error({ worker: worker.index, pid: replacement.pid }, "restarted worker not ready within 60 s; killing it");
        replacement.kill();
      }, READY_TIMEOUT_MS);
      hung.unref?.();
      void replacement.exited.then(() => clearTimeout(hung));
    }, decision.delayMs);
    respawnTimers.add(timer);
  };

  /** Resolves true when all are serving; false when one exits first or the time is up. */
  const allReady = async (workers: readonly WorkerProcess[]): Promise<boolean> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      Promise.all(workers.map((w) => w.ready)).then(() => true),
      ...workers.map((w) => w.exited.then(() => false)),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    return outcome;
  };

  const stopAll = async (workers: readonly WorkerProcess[]) => {
    for (const worker of workers) worker.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)));
    await Promise.race([Promise.all(workers.map((w) => w.exited)), late]);
    clearTimeout(timer);
    for (const worker of workers) worker.kill();
    await Promise.all(workers.map((w) => w.exited));
  };

  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, workers: slots.length }, "stopping the workers");
    for (const timer of respawnTimers) clearTimeout(timer);
    await stopAll([...slots, ...(restarting ?? [])]);
    removeStatus(config.dataDir);
    await storage.close();
    log.info("stopped");
    log.flush();
    process.exit(code);
  };

  const restart = async () => {
    if (stopping) return;
    if (!serving) {
      log.warn("SIGHUP before the workers serve: ignored (nothing to restart yet)");
      return;
    }
    if (restarting) {
      log.warn("a restart is already under way; this SIGHUP is ignored");
      return;
    }
    const attempt = ++attempts;
    log.info({ generation: generation + 1, workers: count, binary: command[0] }, "restart: starting new workers next to the running ones");
    restarting = Array.from({ length: count }, (_, index) => start(index, generation + 1));
    status();
    const fresh = restarting;
    const ok = await allReady(fresh);
    if (stopping) return;
    if (!ok) {
      const error = "a new worker exited or did not become ready within 60 s; the running workers keep serving";
      log.error({ generation: generation + 1 }, `restart failed: ${error}`);
      restarting = null;
      await stopAll(fresh);
      lastRestart = { attempt, generation: generation + 1, ok: false, error, at: new Date().toISOString() };
      status();
      return;
    }
    const old = slots;
    slots = fresh;
    restarting = null;
    generation += 1;
    // A new worker that died between its ready message and now was nobody's to restart until this moment.
    for (const worker of fresh) if (worker.exitCode !== null) onExit(worker, worker.exitCode);
    log.info({ generation, old_pids: old.map((w) => w.pid), pids: slots.map((w) => w.pid) }, "restart: new workers serving; draining the old ones");
    await stopAll(old);
    lastRestart = { attempt, generation, ok: true, at: new Date().toISOString() };
    status();
    log.info({ generation }, "restart complete");
  };

  process.on("SIGTERM", () => void shutdown("SIGTERM", 0));
  process.on("SIGINT", () => void shutdown("SIGINT", 0));
  process.on("SIGHUP", () => void restart());

  slots = Array.from({ length: count }, (_, index) => start(index));
  // At start a worker that exits is a configuration or environment problem, not a crash to retry.
  const up = await allReady(slots);
  if (stopping) return;
  if (!up) {
    stopping = true;
    await stopAll(slots);
    return fail("a worker could not start (its error is above); stopping", storage);
  }
  serving = true;
  status();
  log.info({ workers: count, pids: slots.map((w) => w.pid), ...ports }, "portcullis workers are serving");
}

/** What must happen once however many workers start: the admin token (printed once) and the secrets key file. */
async function bootstrapOnce(config: Config, log: Logger, storage: GatewayStorage): Promise<void> {
  const redis = connectRedis(storage.target, log, "supervisor");
  try {
    log.info({ redis: describe(storage.target) }, "waiting for redis");
    await waitUntilReady(redis);
    await ensureAdminToken({
      tokens: createStores(redis).tokens,
      configuredToken: config.adminToken,
      adminEmail: config.adminEmail,
      dataDir: config.dataDir,
      log,
    });
    loadSecretsKey(config.oauth.secretsKey, config.dataDir);
  } finally {
    redis.disconnect();
  }
}
