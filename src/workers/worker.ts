/**
 * A worker process: a full gateway node whose listeners share their ports,
 * started by the supervisor. It tells the supervisor when it serves, drains on
 * SIGTERM like a lone gateway, and stops by itself if the supervisor is gone.
 */
import type { Config } from "../core/config";
import type { Logger } from "../core/logger";
import { startGateway } from "../gateway";
import type { WorkerRole } from "./worker-env";
import { READY_MESSAGE } from "./worker-process";

export async function runWorker(config: Config, log: Logger, role: WorkerRole): Promise<void> {
  // A terminal hang-up reaches the whole process group: restarts are the supervisor's, never a worker's own.
  process.on("SIGHUP", () => log.debug("worker: SIGHUP ignored (the supervisor restarts workers)"));
  let gateway;
  try {
    gateway = await startGateway(config, log, role);
  } catch (err) {
    log.fatal({ err: (err as Error).message, worker: role.index }, "portcullis worker could not start");
    process.stderr.write(`portcullis: worker ${role.index}: ${(err as Error).message}\n`);
    log.flush();
    process.exit(1);
  }

  let stopping = false;
  const shutdown = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, worker: role.index }, "worker stopping");
    await gateway.stop();
    log.info({ worker: role.index }, "worker stopped");
    log.flush();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  // The supervisor died (kill -9, OOM): nobody would stop this worker or restart the others.
  process.on("disconnect", () => void shutdown("supervisor gone"));
  process.send?.(READY_MESSAGE);
}
