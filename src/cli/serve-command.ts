/**
 * `portcullis serve`: config errors exit 2; start-up failures exit 1; SIGINT/SIGTERM stop cleanly.
 * PORTCULLIS_WORKERS ≥ 1 (the default is one per core) makes this process a supervisor of worker
 * processes (src/workers/); 0 serves here, in this one process.
 */
import { ConfigError, parseConfig } from "../core/config";
import { unknownVariableWarnings } from "../core/env-warnings";
import { createLogger } from "../core/logger";
import { startGateway } from "../gateway";
import { runSupervisor } from "../workers/supervisor";
import { runWorker } from "../workers/worker";
import { readWorkerRole } from "../workers/worker-env";

export async function serve(): Promise<void> {
  let config;
  // A mistyped variable is often why a value is missing or wrong: say so before the config errors, too.
  const warnings = unknownVariableWarnings(process.env);
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const warning of warnings) process.stderr.write(`portcullis: warning: ${warning}\n`);
      process.stderr.write(`portcullis: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // Only a process the supervisor started has its IPC channel: the variable alone, set by hand, makes no worker
  // (a worker skips the data-dir lock and relies on a supervisor to restart and stop it).
  const role = process.send ? readWorkerRole(process.env) : null;
  // Warnings once, from the supervisor or the lone gateway, not again from every worker.
  if (!role) for (const warning of warnings) log.warn(warning);
  if (role) return runWorker(config, log, role);
  if (config.workers > 0) return runSupervisor(config, log);
  let gateway;
  try {
    gateway = await startGateway(config, log);
  } catch (err) {
    log.fatal({ err: (err as Error).message }, "portcullis could not start");
    process.stderr.write(`portcullis: ${(err as Error).message}\n`);
    log.flush();
    process.exit(1);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await gateway.stop();
    log.info("stopped");
    log.flush();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}
