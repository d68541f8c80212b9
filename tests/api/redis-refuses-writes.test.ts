/**
 * A Redis that answers but refuses writes — a demoted master (READONLY), a
 * master without enough replicas (min-replicas-to-write: NOREPLICAS) — is a
 * storage outage to the API: 503 with the usual JSON error, nothing written.
 */
import { expect, test } from "bun:test";
import { closedPort } from "../helpers/ports";
import { snapshot, useApiHarness } from "../helpers/api-app";

const suite = useApiHarness();
const body = { hostname: "refused.example.test", target_url: "http://127.0.0.1:9", enable_https: false };

test("min-replicas-to-write unmet (NOREPLICAS): 503 unavailable, nothing written", async () => {
  const before = await snapshot(suite.redis);
  await suite.redis.client.config("SET", "min-replicas-to-write", "1");
  try {
    const created = await suite.api.call("POST", "/api/v1/proxy/targets", { body });
    expect({ status: created.status, json: created.json }).toEqual({ status: 503, json: { error: "unavailable", detail: "storage is unreachable; retry shortly" } });
  } finally {
    await suite.redis.client.config("SET", "min-replicas-to-write", "0");
  }
  expect(await snapshot(suite.redis)).toEqual(before);
});

test("a replica (READONLY): 503 unavailable, nothing written", async () => {
  const before = await snapshot(suite.redis);
  // A replica of a master that is not there: it keeps its data and refuses writes.
  await suite.redis.client.call("REPLICAOF", "127.0.0.1", String(closedPort()));
  try {
    const created = await suite.api.call("POST", "/api/v1/proxy/targets", { body });
    expect({ status: created.status, json: created.json }).toEqual({ status: 503, json: { error: "unavailable", detail: "storage is unreachable; retry shortly" } });
  } finally {
    await suite.redis.client.call("REPLICAOF", "NO", "ONE");
  }
  expect(await snapshot(suite.redis)).toEqual(before);
});
