/**
 * A throwaway redis-server that loads a backup's snapshot, so its keys can be
 * read with DUMP and written wherever the gateway's data belongs. It listens
 * only on a unix socket in a fresh 0700 directory (no port, so no password
 * needed), persists nothing, and its directory is removed when it stops.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { Redis } from "ioredis";
import { onInterrupt, signalRedisOf } from "./interrupt-cleanup";

export class TemporaryRedisError extends Error {
  override name = "TemporaryRedisError";
}

const READY_TIMEOUT_MS = 60_000;
const PREFIX = "portcullis-restore-";

export class TemporaryRedis {
  private constructor(
    private readonly child: Subprocess,
    private readonly dir: string,
    readonly client: Redis,
    private readonly forget: () => void,
  ) {}

  static async load(rdb: Uint8Array, serverBinary: string): Promise<TemporaryRedis> {
    const binary = Bun.which(serverBinary);
    if (!binary) throw new TemporaryRedisError(`${serverBinary} was not found on PATH: restoring loads the snapshot with a local redis-server (set REDIS_SERVER_BIN to its path)`);
    sweepAbandoned();
    // The owner's pid in the name lets a later restore tell an abandoned one (its owner killed outright) from a live one.
    const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
    chmodSync(dir, 0o700);
    const socket = join(dir, "redis.sock");
    const log = join(dir, "redis.log");
    writeFileSync(join(dir, "snapshot.rdb"), rdb, { mode: 0o600 });
    const args = [
      ...["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700"],
      ...["--dir", dir, "--dbfilename", "snapshot.rdb", "--appendonly", "no", "--save", ""],
      ...["--pidfile", join(dir, "redis.pid"), "--logfile", log, "--daemonize", "no"],
      // Any database index a REDIS_URL may have named.
      ...["--databases", "256"],
    ];
    const child = Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const forget = onInterrupt(() => {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    });
    try {
      const client = await waitForLoaded(child, socket, log);
      return new TemporaryRedis(child, dir, client, forget);
    } catch (err) {
      forget();
      child.kill("SIGKILL");
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    if (this.child.exitCode === null) {
      this.child.kill("SIGKILL"); // it holds nothing worth saving
      await this.child.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.forget();
  }
}

async function waitForLoaded(child: Subprocess, socket: string, log: string): Promise<Redis> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const tail = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").slice(-3).join(" | ") : "";
      throw new TemporaryRedisError(`redis-server could not load the snapshot: ${tail || `it exited with code ${child.exitCode}`}`);
    }
    if (existsSync(socket)) {
      const client = new Redis({ path: socket, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      client.on("error", () => {});
      try {
        await client.connect();
        // PING answers "-LOADING" until the snapshot is in memory.
        if ((await client.ping()) === "PONG") return client;
      } catch {}
      client.disconnect();
    }
    await Bun.sleep(25);
  }
  throw new TemporaryRedisError(`redis-server did not load the snapshot within ${READY_TIMEOUT_MS / 1000} s`);
}

/**
 * A restore killed outright (SIGKILL) cannot stop its throwaway Redis, which
 * would keep the whole dataset in memory for good. Each restore first stops
 * those whose owner is gone — found by the owner pid in the directory name,
 * and signalled only if the pid file names a redis-server for that directory.
 */
function sweepAbandoned(): void {
  const base = tmpdir();
  for (const name of readdirSync(base)) {
    const owner = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!owner || Number(owner[1]) === process.pid || isAlive(Number(owner[1]))) continue;
    const dir = join(base, name);
    try {
      if (!statSync(dir).isDirectory() || statSync(dir).uid !== process.getuid?.()) continue;
    } catch {
      continue;
    }
    signalRedisOf(dir, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
