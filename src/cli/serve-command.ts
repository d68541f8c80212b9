/** `portcullis serve`: config errors exit 2; start-up failures exit 1; SIGINT/SIGTERM stop cleanly. */
import { ConfigError, parseConfig } from "../core/config";
import { createLogger } from "../core/logger";
import { startGateway } from "../gateway";

export async function serve(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
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
