/**
 * connectRedis with a Sentinel target (storage/redis-connection.ts), against a
 * real sentinel: a wrong group name is retried and logged, never fatal; a
 * server that starts answering READONLY (demoted under the connection) makes
 * the connection start over through the sentinels.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import pino from "pino";
import { connectRedis, waitUntilReady, type SentinelTarget } from "../../src/storage/redis-connection";
import { startSentinelGroup, type SentinelGroup } from "../helpers/redis-sentinel";

let group: SentinelGroup;
beforeAll(async () => {
  group = await startSentinelGroup({ sentinels: 1 });
}, 30_000);
afterAll(() => group?.stop());

function capturingLog() {
  const lines: string[] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  return { log, lines };
}

const target = (name = group.name): SentinelTarget => ({
  sentinels: group.sentinelPorts.map((port) => ({ host: "127.0.0.1", port })),
  name,
  sentinelPassword: group.sentinelPassword,
  password: group.password,
  db: 1,
});

test("a group the sentinels do not know: retried and logged without passwords, the process goes on", async () => {
  const { log, lines } = capturingLog();
  const client = connectRedis(target("no-such-group"), log);
  try {
    for (let i = 0; i < 100 && !lines.some((l) => l.includes("no redis sentinel named a reachable master")); i++) await Bun.sleep(50);
    const text = lines.join("");
    expect(text).toContain(`sentinel:no-such-group@127.0.0.1:${group.sentinelPorts[0]}/1`);
    expect(text).not.toContain(group.password);
    expect(text).not.toContain(group.sentinelPassword);
    expect(client.status).not.toBe("ready");
  } finally {
    client.disconnect();
  }
});

test("READONLY from the server it is connected to: the connection starts over through the sentinels", async () => {
  const { log } = capturingLog();
  const client = connectRedis(target(), log);
  const master = group.client(group.masterPort);
  try {
    await waitUntilReady(client);
    await client.set("sentinel:probe", "1");
    const firstId = await client.client("ID");
    // Demoted under the open connection (sentinel would also kill it; plain REPLICAOF does not).
    await master.call("REPLICAOF", "127.0.0.1", String(group.replicaPort));
    const refused = await client.set("sentinel:probe", "2").catch((err: Error) => err.message);
    expect(refused).toStartWith("READONLY");
    await master.call("REPLICAOF", "NO", "ONE");
    // A new connection, to the server the sentinels name: writes go through again.
    let secondId: unknown = firstId;
    for (let i = 0; i < 100 && secondId === firstId; i++) {
      await Bun.sleep(50);
      secondId = await client.client("ID").catch(() => firstId);
    }
    expect(secondId).not.toBe(firstId);
    expect(await client.set("sentinel:probe", "3")).toBe("OK");
  } finally {
    await master.call("REPLICAOF", "NO", "ONE").catch(() => {});
    client.disconnect();
  }
});
