/** `portcullis serve`: config errors exit 2; start-up failures exit 1; SIGINT/SIGTERM stop cleanly. */
import { ConfigError, parseConfig } from "../core/config";
import { unknownVariableWarnings } from "../core/env-warnings";
import { createLogger } from "../core/logger";
import { startGateway } from "../gateway";

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
  for (const warning of warnings) log.warn(warning);
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
