/**
 * The workflow consumer group on a real Redis: three consumers (three nodes)
 * share events so that each side effect happens once; a handler that fails
 * is tried again after the claim timeout; one that keeps failing is
 * dead-lettered with a log line and a metric; consumers that left are removed;
 * the group survives its stream being deleted.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import type { Redis } from "ioredis";
import { createLogger } from "../../src/core/logger";
import type { WorkflowSettings } from "../../src/core/workflow-config";
import { WorkflowConsumer, type WorkflowHandler } from "../../src/orchestration/workflow-consumer";
import { WorkflowMetrics } from "../../src/metrics/workflow-metrics";
import { WorkflowGroup } from "../../src/orchestration/workflow-group";
import { keys } from "../../src/storage/keys";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";
import { countingHandler, EFFECT_LOG, EFFECTS } from "../helpers/workflow-node";

let redis: TestRedis;
const started: WorkflowConsumer[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis.stop());
beforeEach(() => redis.client.flushdb());
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.stop()));
});

const SETTINGS: WorkflowSettings = { claimIdleMs: 300, maxDeliveries: 3, consumerForgetMs: 60_000 };

function consumer(handlers: Record<string, WorkflowHandler>, options: { settings?: Partial<WorkflowSettings>; logLines?: string[]; metrics?: WorkflowMetrics; nodeId?: string } = {}) {
  const lines = options.logLines;
  const log = createLogger("debug", { write: (line: string) => void lines?.push(line) });
  const made = new WorkflowConsumer({
    redis: redis.client,
    handlers: new Map(Object.entries(handlers)),
    settings: { ...SETTINGS, ...options.settings },
    log,
    nodeId: options.nodeId ?? "node",
    counts: options.metrics,
  });
  started.push(made);
  return made;
}

/** Appends an event as the repositories do (XADD on events:workflow). */
async function addEvent(conn: Redis, eventType: string, data: Record<string, unknown> = {}): Promise<string> {
  return (await conn.xadd(keys.workflowStream, "*", "event_type", eventType, "hostname", "", "data", JSON.stringify(data), "timestamp", new Date().toISOString()))!;
}

const groupPending = async () => Number(((await redis.client.xpending(keys.workflowStream, keys.workflowGroup)) as [number])[0]);
const effects = async (id: string) => Number((await redis.client.get(EFFECTS(id))) ?? 0);

async function threeNodes(handler: (name: () => string) => WorkflowHandler) {
  const nodes = ["a", "b", "c"].map((n) => {
    let name = "";
    const made = consumer({ test_effect: handler(() => name) }, { nodeId: `node-${n}` });
    name = made.name;
    return made;
  });
  await Promise.all(nodes.map((n) => n.start()));
  return nodes;
}

describe("exactly once across nodes", () => {
  test("three nodes, one event: one side effect, acknowledged", async () => {
    await threeNodes((name) => countingHandler(redis.client, name));
    const id = await addEvent(redis.client, "test_effect");
    expect(await within(5_000, async () => (await effects(id)) === 1 && (await groupPending()) === 0)).toBe(true);
    // Nobody does it again: no redelivery after the claim timeout either.
    await Bun.sleep(SETTINGS.claimIdleMs * 3);
    expect(await effects(id)).toBe(1);
    expect(await redis.client.lrange(EFFECT_LOG, 0, -1)).toHaveLength(1);
    expect(await redis.client.exists(keys.workflowDone(id))).toBe(1);
  });

  test("three nodes, 60 events written while they read: each done once, the work spread over the nodes", async () => {
    const nodes = await threeNodes((name) => async (event, context) => {
      // A little work, so the other nodes' reads take the next events meanwhile.
      await Bun.sleep(5);
      await countingHandler(redis.client, name)(event, context);
    });
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push(await addEvent(redis.client, "test_effect"));
    expect(await within(15_000, async () => (await redis.client.llen(EFFECT_LOG)) >= 60 && (await groupPending()) === 0)).toBe(true);
    await Bun.sleep(SETTINGS.claimIdleMs * 2);
    for (const id of ids) expect(await effects(id)).toBe(1);
    const byNode = await redis.client.lrange(EFFECT_LOG, 0, -1);
    expect(byNode).toHaveLength(60);
    expect(new Set(byNode).size).toBeGreaterThan(1);
    expect(new Set(byNode).size).toBeLessThanOrEqual(nodes.length);
  });

  test("an event type no handler wants is acknowledged without side effect", async () => {
    await threeNodes((name) => countingHandler(redis.client, name));
    const id = await addEvent(redis.client, "route_updated", { route_id: "r1" });
    const handled = await addEvent(redis.client, "test_effect");
    expect(await within(5_000, async () => (await effects(handled)) === 1 && (await groupPending()) === 0)).toBe(true);
    expect(await effects(id)).toBe(0);
    expect(await redis.client.exists(keys.workflowDone(id))).toBe(0);
  });
});

describe("the lease on running a handler", () => {
  test("one consumer at a time; finished means done for everyone; a lease is given back only by its holder", async () => {
    const a = new WorkflowGroup(redis.client, "a");
    const b = new WorkflowGroup(redis.client, "b");
    expect(await a.lease("1-0", 5_000)).toBe("mine");
    // b claimed the same entry meanwhile (it was idle in a's batch): it must not run it too.
    expect(await b.lease("1-0", 5_000)).toBe("busy");
    await b.release("1-0");
    expect(await b.lease("1-0", 5_000)).toBe("busy");
    // a finishes: done marker, acknowledgement and lease in one transaction; anyone asking later finds it done.
    const tx = redis.client.multi();
    a.queueDone(tx, "1-0");
    await tx.exec();
    expect(await b.lease("1-0", 5_000)).toBe("done");
    // A handler that threw gives its lease back at once; an expired lease is free.
    expect(await a.lease("2-0", 5_000)).toBe("mine");
    await a.release("2-0");
    expect(await b.lease("2-0", 5_000)).toBe("mine");
    expect(await a.lease("3-0", 100)).toBe("mine");
    await Bun.sleep(150);
    expect(await b.lease("3-0", 5_000)).toBe("mine");
  });
});

describe("retries and dead letters", () => {
  test("a handler that fails twice then succeeds: three attempts, one side effect, counted", async () => {
    const registry = new Registry();
    const metrics = new WorkflowMetrics(registry);
    const lines: string[] = [];
    const deliveries: number[] = [];
    const node = consumer(
      {
        test_effect: async (event, context) => {
          deliveries.push(context.delivery);
          if (deliveries.length <= 2) throw new Error(`backend not ready (attempt ${deliveries.length})`);
          await countingHandler(redis.client, () => node.name)(event, context);
        },
      },
      { metrics, logLines: lines },
    );
    await node.start();
    const id = await addEvent(redis.client, "test_effect");
    expect(await within(10_000, async () => (await effects(id)) === 1 && (await groupPending()) === 0)).toBe(true);
    expect(deliveries).toEqual([1, 2, 3]);
    const counted = await metricValues(registry);
    expect(counted).toEqual({ "test_effect/failed": 2, "test_effect/handled": 1 });
    expect(lines.filter((l) => l.includes("workflow event handler failed"))).toHaveLength(2);
    expect(await redis.client.xlen(keys.workflowDeadLetters)).toBe(0);
  });

  test("a poison event is dead-lettered after WORKFLOW_MAX_DELIVERIES attempts, logged and counted, and not tried again", async () => {
    const registry = new Registry();
    const metrics = new WorkflowMetrics(registry);
    const lines: string[] = [];
    let attempts = 0;
    const node = consumer(
      {
        test_effect: async () => {
          attempts++;
          throw new Error("malformed work");
        },
      },
      { metrics, logLines: lines },
    );
    await node.start();
    const id = await addEvent(redis.client, "test_effect", { hostname_hint: "poison" });
    expect(await within(10_000, async () => (await redis.client.xlen(keys.workflowDeadLetters)) === 1)).toBe(true);
    expect(attempts).toBe(SETTINGS.maxDeliveries);
    const [[, fields]] = (await redis.client.xrange(keys.workflowDeadLetters, "-", "+")) as [string, string[]][];
    const dead = Object.fromEntries(fields!.flatMap((_, i) => (i % 2 === 0 ? [[fields![i], fields![i + 1]]] : [])));
    expect(dead).toMatchObject({ event_type: "test_effect", original_id: id, deliveries: "3", consumer: node.name, reason: "malformed work" });
    expect(JSON.parse(dead.data!)).toEqual({ hostname_hint: "poison" });
    expect(await groupPending()).toBe(0);
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes("dead-lettered"));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: "error", event_id: id, event_type: "test_effect", deliveries: 3, err: "malformed work" });
    expect(await metricValues(registry)).toEqual({ "test_effect/failed": 3, "test_effect/dead_lettered": 1 });
    await Bun.sleep(SETTINGS.claimIdleMs * 3);
    expect(attempts).toBe(SETTINGS.maxDeliveries);
  });

  test("an event whose nodes died during every attempt is dead-lettered when claimed once more, without running it", async () => {
    const id = await addEvent(redis.client, "test_effect");
    await redis.client.xgroup("CREATE", keys.workflowStream, keys.workflowGroup, "0");
    // Delivered to a node that died, then claimed by another that died too, then a third: three attempts that never ended.
    await redis.client.xreadgroup("GROUP", keys.workflowGroup, "dead-1", "COUNT", 1, "STREAMS", keys.workflowStream, ">");
    await redis.client.xclaim(keys.workflowStream, keys.workflowGroup, "dead-2", 0, id);
    await redis.client.xclaim(keys.workflowStream, keys.workflowGroup, "dead-3", 0, id);
    let ran = 0;
    const node = consumer({
      test_effect: async () => {
        ran++;
      },
    });
    await node.start();
    expect(await within(5_000, async () => (await redis.client.xlen(keys.workflowDeadLetters)) === 1)).toBe(true);
    expect(ran).toBe(0);
    const [[, fields]] = (await redis.client.xrange(keys.workflowDeadLetters, "-", "+")) as [string, string[]][];
    expect(fields).toContain("deliveries");
    expect(fields![fields!.indexOf("deliveries") + 1]).toBe("4");
    expect(await groupPending()).toBe(0);
  });

  test("an entry whose side effect was done but never acknowledged (its node stopped) is acknowledged without running again", async () => {
    const id = await addEvent(redis.client, "test_effect");
    // A node that read it, did it (the done marker), and died before XACK.
    await redis.client.xgroup("CREATE", keys.workflowStream, keys.workflowGroup, "0");
    await redis.client.xreadgroup("GROUP", keys.workflowGroup, "dead-node", "COUNT", 1, "STREAMS", keys.workflowStream, ">");
    await redis.client.set(keys.workflowDone(id), "dead-node");
    let ran = 0;
    const node = consumer({
      test_effect: async () => {
        ran++;
      },
    });
    await node.start();
    expect(await within(5_000, async () => (await groupPending()) === 0)).toBe(true);
    expect(ran).toBe(0);
  });

  test("the group's pending count (entries held on any node) is read in each claim round, for /metrics", async () => {
    // One node holds an entry in a handler that does not return (within the long claim timeout).
    const holder = consumer({ test_effect: () => new Promise(() => {}) }, { settings: { claimIdleMs: 60_000 } });
    await holder.start();
    await addEvent(redis.client, "test_effect");
    expect(await within(3_000, async () => (await groupPending()) === 1)).toBe(true);
    const registry = new Registry();
    const metrics = new WorkflowMetrics(registry);
    const other = consumer({}, { metrics, settings: { claimIdleMs: 60_000 } });
    metrics.watchPending(() => other.pendingCount);
    await other.start();
    expect(await within(3_000, async () => other.pendingCount === 1)).toBe(true);
    expect((await registry.getSingleMetric("portcullis_workflow_pending")!.get()).values[0]!.value).toBe(1);
    // Stopping waits for a running handler: this one never ends, so it is left out of the cleanup.
    started.splice(started.indexOf(holder), 1);
  });

  test("a handler still running after the claim timeout counts as failed, and another node finishes the event", async () => {
    const registry = new Registry();
    const metrics = new WorkflowMetrics(registry);
    const stuck = consumer({ test_effect: () => new Promise(() => {}) }, { metrics });
    await stuck.start();
    const id = await addEvent(redis.client, "test_effect");
    expect(await within(3_000, async () => (await groupPending()) === 1)).toBe(true);
    await stuck.stop();
    started.splice(started.indexOf(stuck), 1);
    expect(await metricValues(registry)).toEqual({ "test_effect/failed": 1 });
    let name = "";
    const healthy = consumer({ test_effect: countingHandler(redis.client, () => name) });
    name = healthy.name;
    await healthy.start();
    expect(await within(5_000, async () => (await effects(id)) === 1 && (await groupPending()) === 0)).toBe(true);
    expect(await redis.client.lrange(EFFECT_LOG, 0, -1)).toEqual([healthy.name]);
  });
});

describe("the group itself", () => {
  test("created at the stream's end: events from before any consumer existed are not handled", async () => {
    const before = await addEvent(redis.client, "test_effect");
    await threeNodes((name) => countingHandler(redis.client, name));
    const after = await addEvent(redis.client, "test_effect");
    expect(await within(5_000, async () => (await effects(after)) === 1)).toBe(true);
    expect(await effects(before)).toBe(0);
  });

  test("events written while every node was down are handled when a node starts again (the group keeps its place)", async () => {
    const first = consumer({});
    await first.start();
    await first.stop();
    started.splice(started.indexOf(first), 1);
    const id = await addEvent(redis.client, "test_effect");
    let name = "";
    const again = consumer({ test_effect: countingHandler(redis.client, () => name) });
    name = again.name;
    await again.start();
    expect(await within(5_000, async () => (await effects(id)) === 1 && (await groupPending()) === 0)).toBe(true);
  });

  test("a deleted stream: the group is made again from the start of the new stream, and its first events are handled", async () => {
    const lines: string[] = [];
    let name = "";
    const node = consumer({ test_effect: countingHandler(redis.client, () => name) }, { logLines: lines });
    name = node.name;
    await node.start();
    await redis.client.del(keys.workflowStream);
    const id = await addEvent(redis.client, "test_effect");
    expect(await within(5_000, async () => (await effects(id)) === 1)).toBe(true);
    expect(lines.some((l) => l.includes("created again from the stream's start"))).toBe(true);
  });

  test("a consumer that left is removed once nothing is pending on it; one holding an entry stays until the entry is claimed", async () => {
    const held = await addEvent(redis.client, "test_effect");
    await redis.client.xgroup("CREATE", keys.workflowStream, keys.workflowGroup, "0");
    // "holder" died holding an entry; "idle" read one, acknowledged it, and left.
    await redis.client.xreadgroup("GROUP", keys.workflowGroup, "holder", "COUNT", 1, "STREAMS", keys.workflowStream, ">");
    const done = await addEvent(redis.client, "route_updated");
    await redis.client.xreadgroup("GROUP", keys.workflowGroup, "idle", "COUNT", 1, "STREAMS", keys.workflowStream, ">");
    await redis.client.xack(keys.workflowStream, keys.workflowGroup, done);
    const names = async () => ((await redis.client.xinfo("CONSUMERS", keys.workflowStream, keys.workflowGroup)) as string[][]).map((c) => c[1]).sort();
    // Both silent for longer than WORKFLOW_CONSUMER_FORGET_MS before a node's first claim round.
    await Bun.sleep(1_200);
    const lines: string[] = [];
    const first = consumer({}, { settings: { claimIdleMs: 60_000, consumerForgetMs: 1_000 }, logLines: lines });
    await first.start();
    expect(await within(3_000, async () => !(await names()).includes("idle"))).toBe(true);
    expect(await names()).toContain("holder");
    expect(lines.some((l) => l.includes("workflow consumers that left were removed") && l.includes('"idle"'))).toBe(true);
    // A node with a short claim timeout takes the entry over, does it, and then "holder" has nothing left: it goes.
    let name = "";
    const second = consumer({ test_effect: countingHandler(redis.client, () => name) }, { settings: { claimIdleMs: 100, consumerForgetMs: 1_000 } });
    name = second.name;
    await second.start();
    expect(await within(5_000, async () => (await effects(held)) === 1 && !(await names()).includes("holder"))).toBe(true);
  });
});

/** Non-zero values of portcullis_workflow_events_total as "event_type/result". */
async function metricValues(registry: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const metric = registry.getSingleMetric("portcullis_workflow_events_total")!;
  for (const v of (await metric.get()).values) if (v.value > 0) out[`${v.labels.event_type}/${v.labels.result}`] = v.value;
  return out;
}
