/**
 * `bun bench/sentinel-writes.ts [--writes N] [--rounds N]`: what Redis
 * Sentinel costs an API write. One real group (master, replica, three
 * sentinels on loopback, tests/helpers/redis-sentinel.ts); the same master
 * reached directly (REDIS_URL) and through the sentinels (REDIS_SENTINELS),
 * in alternating rounds:
 *
 *   transaction  storage/transaction.ts's WATCH/MULTI/EXEC on a fresh
 *                connection, as every configuration write does (with
 *                Sentinel, that connection first asks a sentinel)
 *   command      one SET on the long-lived connection
 *
 * Prints the median ms per operation of each. Loopback only: across a
 * network, add one round trip to a sentinel per transaction.
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { connectRedis, waitUntilReady } from "../src/storage/redis-connection";
import { watchAndCommit } from "../src/storage/transaction";
import { startSentinelGroup } from "../tests/helpers/redis-sentinel";
import { removeTempDirs } from "../tests/helpers/temp";
import { median } from "./rounds";

const { values } = parseArgs({ options: { writes: { type: "string", default: "300" }, rounds: { type: "string", default: "3" } } });
const writes = Number(values.writes);
const rounds = Number(values.rounds);
if (!Number.isInteger(writes) || writes < 1 || !Number.isInteger(rounds) || rounds < 1) throw new Error("--writes and --rounds expect positive integers");

const group = await startSentinelGroup({ sentinels: 3 });
const log = pino({ level: "silent" });
const clients = {
  direct: connectRedis({ url: `redis://127.0.0.1:${group.masterPort}/0`, password: group.password }, log),
  sentinel: connectRedis(
    { sentinels: group.sentinelPorts.map((port) => ({ host: "127.0.0.1", port })), name: group.name, sentinelPassword: group.sentinelPassword, password: group.password, db: 0 },
    log,
  ),
};
try {
  await Promise.all(Object.values(clients).map(waitUntilReady));
  const samples = { direct: { transaction: [] as number[], command: [] as number[] }, sentinel: { transaction: [] as number[], command: [] as number[] } };
  for (let round = 0; round < rounds; round++) {
    for (const name of ["direct", "sentinel"] as const) {
      const client = clients[name];
      let start = performance.now();
      for (let i = 0; i < writes; i++) await watchAndCommit(client, ["bench:key"], async (conn) => ({ commit: conn.multi().set("bench:key", String(i)), result: i }));
      samples[name].transaction.push((performance.now() - start) / writes);
      start = performance.now();
      for (let i = 0; i < writes; i++) await client.set("bench:command", String(i));
      samples[name].command.push((performance.now() - start) / writes);
    }
  }
  for (const name of ["direct", "sentinel"] as const) {
    const { transaction, command } = samples[name];
    console.log(`${name.padEnd(8)}  transaction ${median(transaction).toFixed(2)} ms   command ${median(command).toFixed(3)} ms   (median of ${rounds} rounds × ${writes})`);
  }
} finally {
  for (const client of Object.values(clients)) client.disconnect();
  await group.stop();
  removeTempDirs();
}
