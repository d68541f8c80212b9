/**
 * The managed `redis-server` used when REDIS_URL is unset: a child process on a
 * unix socket in the data dir, password-protected, with AOF persistence so state
 * survives restarts. The password lives in a 0600 config file, never on the
 * command line where `ps` would show it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Subprocess } from "bun";
import { Redis } from "ioredis";
import type { Logger } from "../core/logger";
import type { LockedDataDir } from "./data-dir-lock";
import { stopOrphanedRedis } from "./redis-orphan";

export class EmbeddedRedisError extends Error {
  override name = "EmbeddedRedisError";
}

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

export class EmbeddedRedis {
  private constructor(
    private readonly process: Subprocess,
    readonly socketPath: string,
    readonly password: string,
    private readonly log: Logger,
  ) {}

  static async start(options: {
    /** Held by this process: no live gateway owns the Redis found there. */
    dataDir: LockedDataDir;
    serverBinary: string;
    password?: string;
    log: Logger;
  }): Promise<EmbeddedRedis> {
    const { dataDir, serverBinary, log } = options;
    const binary = Bun.which(serverBinary);
    if (!binary) {
      throw new EmbeddedRedisError(
        `${serverBinary} was not found on PATH. Install Redis (Debian/Ubuntu: \`sudo apt-get install redis-server\`; ` +
          "Fedora: `sudo dnf install redis`; macOS: `brew install redis`), set REDIS_SERVER_BIN to its path, " +
          "or set REDIS_URL to use a Redis server you run yourself.",
      );
    }

    const dir = join(dataDir.path, "redis");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const socketPath = join(dir, "redis.sock");
    const password = options.password ?? loadOrCreatePassword(join(dir, "password"));
    const configPath = join(dir, "redis.conf");
    await stopOrphanedRedis(dataDir, { pidFile: join(dir, "redis.pid"), socketPath, configPath }, log);

    writeFileSync(configPath, renderConfig(dir, socketPath, password), { mode: 0o600 });
    chmodSync(configPath, 0o600);

    const child = Bun.spawn([binary, configPath], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const server = new EmbeddedRedis(child, socketPath, password, log);
    try {
      await server.waitForPing(join(dir, "redis.log"));
    } catch (err) {
      child.kill("SIGKILL");
      throw err;
    }
    log.info({ socket: socketPath, pid: child.pid }, "embedded redis started");
    return server;
  }

  get pid(): number {
    return this.process.pid;
  }

  /** SIGTERM makes redis-server flush the AOF and exit; escalate if it hangs. */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill("SIGTERM");
    const exited = await Promise.race([this.process.exited.then(() => true), Bun.sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!exited) {
      this.log.warn({ pid: this.process.pid }, "embedded redis did not stop in time, killing it");
      this.process.kill("SIGKILL");
      await this.process.exited;
    }
    this.log.info("embedded redis stopped");
  }

  private async waitForPing(logFile: string): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) {
        const stderr = await new Response(this.process.stderr as ReadableStream).text();
        const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join("\n") : "";
        throw new EmbeddedRedisError(`redis-server exited with code ${this.process.exitCode}: ${(stderr + "\n" + tail).trim()}`);
      }
      if (existsSync(this.socketPath) && (await pingOnce(this.socketPath, this.password))) return;
      await Bun.sleep(25);
    }
    throw new EmbeddedRedisError(`redis-server did not answer on ${this.socketPath} within ${READY_TIMEOUT_MS / 1000}s`);
  }
}

function renderConfig(dir: string, socketPath: string, password: string): string {
  const quote = (value: string) => JSON.stringify(value);
  return [
    "# Written by portcullis on every start; edits are overwritten.",
    "port 0",
    `unixsocket ${quote(socketPath)}`,
    "unixsocketperm 700",
    `dir ${quote(dir)}`,
    `pidfile ${quote(join(dir, "redis.pid"))}`,
    `logfile ${quote(join(dir, "redis.log"))}`,
    "daemonize no",
    "appendonly yes",
    "appendfsync everysec",
    'save ""',
    `requirepass ${quote(password)}`,
    "",
  ].join("\n");
}

function loadOrCreatePassword(file: string): string {
  if (existsSync(file)) {
    const stored = readFileSync(file, "utf8").trim();
    if (stored) return stored;
  }
  const password = randomBytes(32).toString("hex");
  writeFileSync(file, password + "\n", { mode: 0o600 });
  return password;
}

async function pingOnce(path: string, password: string): Promise<boolean> {
  const probe = new Redis({ path, password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}
