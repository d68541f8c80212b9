/**
 * `portcullis backup <file>` and `portcullis restore <file>`: local commands,
 * not API clients. They run on the gateway's machine and read the settings
 * `serve` reads (PORTCULLIS_DATA_DIR, REDIS_URL, REDIS_PASSWORD,
 * OAUTH_SECRETS_KEY, …). Table output is one line for people; json/yaml/csv
 * print the whole report.
 */
import type { Command } from "commander";
import type { Config } from "../../core/config";
import { CliError } from "../cli-error";
import type { CommandOutput } from "../context";
import { renderItem } from "../output";
import { resolveSettings, type GlobalFlags } from "../settings";

type Env = Readonly<Record<string, string | undefined>>;

export function registerBackupCommands(program: Command, env: Env, output: CommandOutput): void {
  const format = () => resolveSettings(program.opts<GlobalFlags>(), env).format;

  program
    .command("backup")
    .description("Write this machine's gateway to one archive: a point-in-time Redis snapshot, secrets.key and admin-token (mode 0600: it holds secrets)")
    .argument("<file>", "the archive to write (.tar.gz); replaced if it exists")
    .action(async (file: string) => {
      const config = await loadConfig(env);
      // Loaded when used: Redis clients and the archive code stay out of every other command's start-up.
      const { backupGateway } = await import("../../backup/backup");
      const report = await run(async () => backupGateway(config, file, await quietLog(config)));
      const shown = { file: report.file, bytes: report.bytes, ...report.manifest, admin_token: report.admin_token };
      if (format() !== "table") return output.print(renderItem(shown, format()));
      const keys = report.manifest.key_count === null ? "" : ` of ${countOf(report.manifest.key_count, "key")}`;
      output.print(`backup${keys} from ${report.manifest.source.redis} Redis written to ${report.file} (${report.bytes} bytes)`);
      const secrets = [...(report.manifest.secrets_key === "included" ? ["secrets.key"] : []), ...(report.admin_token ? ["the admin token"] : []), "the API tokens' records, signing keys"];
      output.note(`It holds secrets (${secrets.join(", ")}): keep it as private as the data dir.`);
      if (report.manifest.secrets_key === "OAUTH_SECRETS_KEY") output.note("OAUTH_SECRETS_KEY is set, so no secrets.key is in the archive: keep that value with the backup.");
    });

  program
    .command("restore")
    .description("Restore a backup archive into this machine's data dir (PORTCULLIS_DATA_DIR) and Redis; the gateway must be stopped")
    .argument("<file>", "an archive written by `portcullis backup`")
    .option("--force", "replace the Redis data, secrets.key and admin-token already there instead of refusing")
    .action(async (file: string, options: { force?: boolean }) => {
      const config = await loadConfig(env);
      const { restoreGateway } = await import("../../backup/restore");
      const report = await run(async () =>
        restoreGateway(config, file, { force: options.force === true, redisServerBinary: env.REDIS_SERVER_BIN || undefined }, await quietLog(config)),
      );
      for (const warning of report.warnings) output.note(`warning: ${warning}`);
      if (format() !== "table") return output.print(renderItem({ ...report }, format()));
      const expired = report.keys_expired > 0 ? ` (${report.keys_expired} expired during the copy)` : "";
      output.print(`restored ${countOf(report.keys_restored, "key")} into ${report.redis === "embedded" ? `the embedded Redis of ${report.data_dir}` : report.redis}${expired}`);
      if (report.written.length > 0) output.print(`wrote ${report.written.join(", ")}`);
      output.note("Start the gateway with these settings: portcullis serve");
    });
}

const countOf = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;

async function loadConfig(env: Env): Promise<Config> {
  const { ConfigError, parseConfig } = await import("../../core/config");
  try {
    return parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

/** Warnings only (an orphaned Redis stopped, …), on stderr: stdout carries the result. */
async function quietLog(config: Config) {
  const [{ createLogger }, { default: pino }] = await Promise.all([import("../../core/logger"), import("pino")]);
  return createLogger(config.logLevel === "debug" || config.logLevel === "info" ? "warn" : config.logLevel, pino.destination({ fd: 2, sync: true }));
}

/**
 * Failures become one line on stderr (exit 1), as other commands report API
 * errors. An interrupt stops the Redis servers the work started (see
 * backup/interrupt-cleanup.ts) before the process exits.
 */
async function run<T>(work: () => Promise<T>): Promise<T> {
  const { runInterruptCleanups } = await import("../../backup/interrupt-cleanup");
  const interrupted = (signal: NodeJS.Signals, code: number) => () => {
    runInterruptCleanups();
    process.stderr.write(`portcullis: interrupted (${signal}); the Redis servers it started are stopped\n`);
    process.exit(code);
  };
  const onInt = interrupted("SIGINT", 130);
  const onTerm = interrupted("SIGTERM", 143);
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  try {
    return await work();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}
