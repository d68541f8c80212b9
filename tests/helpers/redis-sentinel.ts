/**
 * A real Redis Sentinel group on loopback: a master, one replica, and
 * sentinels (Debian's redis-sentinel, or `redis-server --sentinel`) with short
 * timeouts, so a killed master is replaced within seconds. Data servers and
 * sentinels each ask for a password. Killed when the test is done.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { Redis } from "ioredis";
import { preChosenPort } from "./ports";
import { tempDir } from "./temp";

export interface SentinelGroup {
  readonly name: string;
  readonly password: string;
  readonly sentinelPassword: string;
  readonly masterPort: number;
  readonly replicaPort: number;
  readonly sentinelPorts: readonly number[];
  /** REDIS_SENTINELS for this group. */
  readonly sentinelList: string;
  /** The master's address as the first sentinel that answers names it now. */
  currentMasterPort(): Promise<number | null>;
  /** SIGKILL of the first master: no goodbye to clients or sentinels. */
  killMaster(): Promise<void>;
  /** SIGSTOP / SIGCONT of the first master: it hangs, then comes back still believing it is the master. */
  pauseMaster(): void;
  resumeMaster(): void;
  /** `role` from INFO replication of the server on `port` (master or slave), or null when it does not answer. */
  roleOf(port: number): Promise<string | null>;
  /** A client of the server on `port` (closed by stop()). */
  client(port: number, db?: number): Redis;
  stop(): Promise<void>;
}

const SENTINEL_COMMAND = Bun.which("redis-sentinel") ? ["redis-sentinel"] : ["redis-server", "--sentinel"];
const DOWN_AFTER_MS = 1_000;
const FAILOVER_TIMEOUT_MS = 5_000;

export async function startSentinelGroup(options: { sentinels?: number } = {}): Promise<SentinelGroup> {
  const name = "portcullis-test";
  const password = "data-" + crypto.randomUUID();
  const sentinelPassword = "sentinel-" + crypto.randomUUID();
  const dir = tempDir("sentinel");
  const children: Subprocess[] = [];
  const clients: Redis[] = [];
  const client = (port: number, db = 0, pass = password) => {
    const c = new Redis({ host: "127.0.0.1", port, password: pass, db, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableReadyCheck: false });
    c.on("error", () => {});
    clients.push(c);
    return c;
  };
  const stop = async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(children.map((c) => c.exited));
  };

  try {
    // The sync to the replica starts at once (not after the default 5 s wait for more replicas).
    const dataServer = (extra: string[]) => (port: number) => [
      "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tempDir("sentinel-data"),
      "--requirepass", password, "--masterauth", password, "--repl-diskless-sync-delay", "0", ...extra,
    ];
    const master = await spawnOnFreePort(children, dataServer([]), (port) => client(port));
    const replica = await spawnOnFreePort(children, dataServer(["--replicaof", "127.0.0.1", String(master.port)]), (port) => client(port));
    const count = options.sentinels ?? 3;
    const quorum = Math.floor(count / 2) + 1;
    const sentinelPorts: number[] = [];
    for (let i = 0; i < count; i++) {
      const sentinel = await spawnOnFreePort(
        children,
        (port) => {
          // Sentinel rewrites its config file: one per sentinel and per attempt.
          const file = join(dir, `sentinel-${port}.conf`);
          writeFileSync(file, [
            `port ${port}`,
            "bind 127.0.0.1",
            `dir ${dir}`,
            `requirepass ${sentinelPassword}`,
            `sentinel sentinel-pass ${sentinelPassword}`,
            `sentinel monitor ${name} 127.0.0.1 ${master.port} ${quorum}`,
            `sentinel auth-pass ${name} ${password}`,
            `sentinel down-after-milliseconds ${name} ${DOWN_AFTER_MS}`,
            `sentinel failover-timeout ${name} ${FAILOVER_TIMEOUT_MS}`,
            `sentinel parallel-syncs ${name} 1`,
            "",
          ].join("\n"));
          return [...SENTINEL_COMMAND, file];
        },
        (port) => client(port, 0, sentinelPassword),
      );
      sentinelPorts.push(sentinel.port);
    }

    // Ready when the replica holds the master's data and every sentinel knows the replica and the other sentinels (their hello messages come every 2 s).
    const deadline = Date.now() + 20_000;
    const replicaClient = client(replica.port);
    while (!(await replicaClient.info("replication")).includes("master_link_status:up")) {
      if (Date.now() > deadline) throw new Error("the replica never synced with the master");
      await Bun.sleep(50);
    }
    for (const port of sentinelPorts) {
      const sentinel = client(port, 0, sentinelPassword);
      while (true) {
        const fields = await sentinel.call("SENTINEL", "master", name).catch(() => null) as string[] | null;
        const info = new Map<string, string>();
        for (let i = 0; fields && i + 1 < fields.length; i += 2) info.set(fields[i]!, fields[i + 1]!);
        if (info.get("num-slaves") === "1" && info.get("num-other-sentinels") === String(count - 1) && info.get("flags") === "master") break;
        if (Date.now() > deadline) throw new Error(`sentinel on ${port} never saw the whole group: ${JSON.stringify(Object.fromEntries(info))}`);
        await Bun.sleep(100);
      }
    }

    const currentMasterPort = async () => {
      for (const port of sentinelPorts) {
        const reply = (await client(port, 0, sentinelPassword).call("SENTINEL", "get-master-addr-by-name", name).catch(() => null)) as [string, string] | null;
        if (reply) return Number(reply[1]);
      }
      return null;
    };

    return {
      name,
      password,
      sentinelPassword,
      masterPort: master.port,
      replicaPort: replica.port,
      sentinelPorts,
      sentinelList: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(","),
      currentMasterPort,
      killMaster: async () => {
        master.child.kill("SIGKILL");
        await master.child.exited;
      },
      pauseMaster: () => master.child.kill("SIGSTOP"),
      resumeMaster: () => master.child.kill("SIGCONT"),
      roleOf: async (port) => {
        // A fresh connection each time: sentinel kills client connections when it reconfigures a server.
        const probe = client(port);
        try {
          return /^role:(\w+)/m.exec(await probe.info("replication"))?.[1] ?? null;
        } catch {
          return null;
        } finally {
          probe.disconnect();
        }
      },
      client: (port, db) => client(port, db),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts a server on a pre-chosen port, again on another one if it did not come up (the port was taken meanwhile). */
async function spawnOnFreePort(children: Subprocess[], command: (port: number) => string[], connect: (port: number) => Redis) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = preChosenPort();
    const child = Bun.spawn(command(port), { stdout: "ignore", stderr: "ignore" });
    children.push(child);
    const probe = connect(port);
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      try {
        if (probe.status !== "ready") await probe.connect();
        await probe.ping();
        return { port, child };
      } catch {
        probe.disconnect();
        await Bun.sleep(20);
      }
    }
    child.kill("SIGKILL");
  }
  throw new Error("could not start a server of the sentinel group");
}
