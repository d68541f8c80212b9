/**
 * The cluster registry on a real Redis and the real API app: a node's
 * heartbeat and what it reports, down after CLUSTER_NODE_DOWN_SECONDS,
 * stopped on a clean stop (only by the instance that wrote the entry),
 * forgotten through TTLs, admin only (two tokens), bad ids named.
 */
import { describe, expect, test } from "bun:test";
import pino from "pino";
import { ClusterRegistry, type ClusterRegistrySources } from "../../src/orchestration/cluster-registry";
import { ClusterNodeRepository } from "../../src/storage/cluster-node-repository";
import { keys } from "../../src/storage/keys";
import { useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const log = pino({ level: "silent" });
const settings = { heartbeatSeconds: 1, downAfterSeconds: 15, forgetAfterSeconds: 600 };

function sources(nodeId: string, counters = { answered: 0, pending: 0 }, startedAt = Date.now() - 5_000): ClusterRegistrySources {
  return {
    nodeId,
    startedAt,
    listeners: () => [
      { name: "api", protocol: "http", port: 9000 },
      { name: "http", protocol: "http", port: 8080 },
    ],
    appliedEventId: () => "0-0",
    pendingRequests: () => counters.pending,
    answeredRequests: () => counters.answered,
  };
}

const registryFor = (nodeId: string, counters?: { answered: number; pending: number }, startedAt?: number) =>
  new ClusterRegistry(new ClusterNodeRepository(suite.redis.client), suite.redis.client, settings, sources(nodeId, counters, startedAt), log);

async function userToken(name: string): Promise<string> {
  return (await suite.api.call("POST", "/api/v1/tokens/", { body: { name } })).json.token;
}

describe("heartbeat", () => {
  test("a started node is listed up at once, with who it is, its listeners, its stream position and its load", async () => {
    const counters = { answered: 0, pending: 3 };
    const registry = registryFor("edge-1", counters);
    await registry.start();
    try {
      const { status, json } = await suite.api.call("GET", "/api/v1/cluster/nodes");
      expect(status).toBe(200);
      expect(json.count).toBe(1);
      expect(json.up).toBe(1);
      const node = json.nodes[0];
      expect(node).toMatchObject({
        node_id: "edge-1",
        state: "up",
        pid: process.pid,
        heartbeat_seconds: 1,
        listeners: [
          { name: "api", protocol: "http", port: 9000 },
          { name: "http", protocol: "http", port: 8080 },
        ],
        event_stream: { applied_id: "0-0", behind_events: 0, lag_seconds: 0 },
        stopped_at: null,
      });
      expect(node.load.pending_requests).toBe(3);
      expect(node.load.memory_rss_bytes).toBeGreaterThan(0);
      expect(typeof node.version).toBe("string");
      expect(node.seconds_since_heartbeat).toBeLessThan(5);

      // The next beats refresh the entry and turn the answered counter into a rate.
      const first = Date.parse(node.heartbeat_at);
      counters.answered = 50;
      let later = node;
      for (let i = 0; i < 100 && Date.parse(later.heartbeat_at) === first; i++) {
        await Bun.sleep(100);
        later = (await suite.api.call("GET", "/api/v1/cluster/nodes/edge-1")).json;
      }
      expect(Date.parse(later.heartbeat_at)).toBeGreaterThan(first);
      expect(later.load.requests_per_second).toBeGreaterThan(0);
    } finally {
      await registry.stop();
    }
  });

  test("a node behind the event stream says so in its entry", async () => {
    await suite.redis.client.xadd(keys.workflowStream, "*", "event_type", "proxy_created", "hostname", "a.test");
    const registry = registryFor("edge-lagging");
    await registry.start();
    try {
      const node = (await suite.api.call("GET", "/api/v1/cluster/nodes/edge-lagging")).json;
      expect(node.event_stream.applied_id).toBe("0-0");
      expect(node.event_stream.behind_events).toBe(1);
    } finally {
      await registry.stop();
    }
  });

  test("every key it writes expires with CLUSTER_NODE_FORGET_SECONDS", async () => {
    const registry = registryFor("edge-ttl");
    await registry.start();
    await registry.stop();
    for (const key of [keys.clusterNode("edge-ttl"), keys.clusterNodes]) {
      const ttl = await suite.redis.client.ttl(key);
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
    }
  });
});

describe("states", () => {
  test("a clean stop marks the node stopped", async () => {
    const registry = registryFor("edge-2");
    await registry.start();
    await registry.stop();
    const node = (await suite.api.call("GET", "/api/v1/cluster/nodes/edge-2")).json;
    expect(node.state).toBe("stopped");
    expect(Date.parse(node.stopped_at)).toBeGreaterThan(Date.now() - 10_000);
  });

  test("during a restart under the same id the new process owns the entry: the old one's heartbeats and stop leave it alone", async () => {
    const old = registryFor("edge-3", undefined, Date.now() - 60_000);
    await old.start();
    const restarted = registryFor("edge-3", undefined, Date.now() - 1_000);
    await restarted.start();
    const owner = async () => (await suite.redis.client.hget(keys.clusterNode("edge-3"), "instance"));
    expect(await owner()).toBe(restarted.instance);
    // The old process keeps beating (every second here) while it drains: the entry stays the new one's.
    await Bun.sleep(1_500);
    expect(await owner()).toBe(restarted.instance);
    await old.stop();
    try {
      expect((await suite.api.call("GET", "/api/v1/cluster/nodes/edge-3")).json.state).toBe("up");
    } finally {
      await restarted.stop();
    }
    expect((await suite.api.call("GET", "/api/v1/cluster/nodes/edge-3")).json.state).toBe("stopped");
  });

  test("a newer process that went silent past the down threshold no longer holds the id", async () => {
    const repository = new ClusterNodeRepository(suite.redis.client);
    const now = Date.now();
    const report = await registryFor("edge-5").report(now);
    const timing = { forgetAfterSeconds: 600, downAfterSeconds: 15 };
    const newer = { ...report, started_at: new Date(now - 1_000).toISOString() };
    const older = { ...report, started_at: new Date(now - 60_000).toISOString() };
    expect(await repository.heartbeat(newer, "newer", now - 20_000, timing)).toBe(true);
    expect(await repository.heartbeat(older, "older", now, timing)).toBe(true);
    expect((await repository.get("edge-5"))?.instance).toBe("older");
    // While the newer one is fresh, the older one does not write.
    expect(await repository.heartbeat(newer, "newer", now, timing)).toBe(true);
    expect(await repository.heartbeat(older, "older", now + 1, timing)).toBe(false);
    expect((await repository.get("edge-5"))?.instance).toBe("newer");
  });

  test("a node silent for longer than CLUSTER_NODE_DOWN_SECONDS is down; past the forget threshold it is pruned", async () => {
    const repository = new ClusterNodeRepository(suite.redis.client);
    const report = await registryFor("edge-silent").report(Date.now());
    const now = Date.now();
    await repository.heartbeat(report, "i-1", now - 20_000, { forgetAfterSeconds: 600, downAfterSeconds: 15 });
    await repository.heartbeat({ ...report, node_id: "edge-alive" }, "i-2", now, { forgetAfterSeconds: 600, downAfterSeconds: 15 });
    const listed = (await suite.api.call("GET", "/api/v1/cluster/nodes")).json;
    expect(listed.nodes.map((n: { node_id: string; state: string }) => [n.node_id, n.state])).toEqual([
      ["edge-alive", "up"],
      ["edge-silent", "down"],
    ]);
    expect(listed.up).toBe(1);
    expect((await suite.api.call("GET", "/api/v1/cluster/nodes/edge-silent")).json.seconds_since_heartbeat).toBeGreaterThanOrEqual(20);

    // Silent for longer than the forget threshold: the next heartbeat of any node drops it from the index.
    await repository.heartbeat({ ...report, node_id: "edge-gone" }, "i-3", now - 700_000, { forgetAfterSeconds: 600, downAfterSeconds: 15 });
    await repository.heartbeat({ ...report, node_id: "edge-alive" }, "i-2", now, { forgetAfterSeconds: 600, downAfterSeconds: 15 });
    expect(await suite.redis.client.zscore(keys.clusterNodes, "edge-gone")).toBeNull();
    // An entry whose hash expired is not listed even while its id is still indexed.
    await suite.redis.client.zadd(keys.clusterNodes, now, "edge-expired");
    expect((await suite.api.call("GET", "/api/v1/cluster/nodes")).json.nodes.map((n: { node_id: string }) => n.node_id)).not.toContain("edge-expired");
  });

  test("a heartbeat that cannot reach Redis is retried, and stopping never throws", async () => {
    const broken = suite.redis.client.duplicate();
    broken.on("error", () => {});
    broken.disconnect();
    const registry = new ClusterRegistry(new ClusterNodeRepository(broken), broken, settings, sources("edge-offline"), log);
    await registry.start();
    await registry.stop();
    expect(await suite.redis.client.exists(keys.clusterNode("edge-offline"))).toBe(0);
  });
});

test("a clean stop waits about a second at most for a Redis that does not answer: shutdown goes on", async () => {
  const registry = registryFor("edge-paused");
  await registry.start();
  // Writes (and scripts) wait while Redis is paused: the stopped mark cannot land.
  await suite.redis.client.call("CLIENT", "PAUSE", "4000", "WRITE");
  const began = Date.now();
  try {
    await registry.stop();
    expect(Date.now() - began).toBeLessThan(2_500);
  } finally {
    await suite.redis.client.call("CLIENT", "UNPAUSE");
  }
});

describe("access", () => {
  test("admin only: a user token gets 403 on the list and on a node, without a token 401", async () => {
    const registry = registryFor("edge-4");
    await registry.start();
    try {
      const alice = await userToken("alice");
      for (const path of ["/api/v1/cluster/nodes", "/api/v1/cluster/nodes/", "/api/v1/cluster/nodes/edge-4"]) {
        const asUser = await suite.api.call("GET", path, { token: alice });
        expect(asUser.status).toBe(403);
        expect(asUser.json.error).toBe("forbidden");
        expect(JSON.stringify(asUser.json)).not.toContain("edge-4\"");
        expect((await suite.api.call("GET", path, { token: null })).status).toBe(401);
        expect((await suite.api.call("GET", path)).status).toBe(200);
      }
    } finally {
      await registry.stop();
    }
  });

  test("an unknown node is a 404, a malformed id a 400 naming it", async () => {
    const missing = await suite.api.call("GET", "/api/v1/cluster/nodes/nobody");
    expect(missing.status).toBe(404);
    expect(missing.json.error).toBe("not_found");
    const bad = await suite.api.call("GET", `/api/v1/cluster/nodes/${encodeURIComponent("a b*")}`);
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toContain("id:");
  });

  test("the endpoints are in the OpenAPI document", async () => {
    const spec = (await suite.api.call("GET", "/api/v1/openapi.json", { token: null })).json;
    expect(spec.paths["/api/v1/cluster/nodes"]?.get?.summary).toContain("gateway nodes");
    expect(spec.paths["/api/v1/cluster/nodes/{id}"]?.get?.summary).toContain("One gateway node");
  });
});
