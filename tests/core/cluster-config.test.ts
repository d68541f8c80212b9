/** CLUSTER_NAME, CLUSTER_API_KEY and the registry timing (CLUSTER_HEARTBEAT_SECONDS, CLUSTER_NODE_DOWN_SECONDS, CLUSTER_NODE_FORGET_SECONDS): defaults, each read, bad values and orderings named. */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/core/config";
import { configProblems as problems } from "../helpers/config-problems";


test("defaults: a heartbeat every 5 s, down after 3 missed (15 s), forgotten after 10 minutes", () => {
  expect(parseConfig({}).cluster).toMatchObject({ heartbeatSeconds: 5, downAfterSeconds: 15, forgetAfterSeconds: 600 });
});

test("the down threshold follows the heartbeat unless set", () => {
  expect(parseConfig({ CLUSTER_HEARTBEAT_SECONDS: "2" }).cluster).toMatchObject({ heartbeatSeconds: 2, downAfterSeconds: 6, forgetAfterSeconds: 600 });
  expect(parseConfig({ CLUSTER_HEARTBEAT_SECONDS: "1", CLUSTER_NODE_DOWN_SECONDS: "4", CLUSTER_NODE_FORGET_SECONDS: "30" }).cluster).toMatchObject({
    heartbeatSeconds: 1,
    downAfterSeconds: 4,
    forgetAfterSeconds: 30,
  });
});

test("bad values are refused, each named", () => {
  const found = problems({ CLUSTER_HEARTBEAT_SECONDS: "0.5", CLUSTER_NODE_DOWN_SECONDS: "soon", CLUSTER_NODE_FORGET_SECONDS: "-1" });
  for (const name of ["CLUSTER_HEARTBEAT_SECONDS", "CLUSTER_NODE_DOWN_SECONDS", "CLUSTER_NODE_FORGET_SECONDS"]) expect(found.some((p) => p.startsWith(`${name}=`))).toBe(true);
});

test("down must come after a heartbeat, and forgetting after down", () => {
  expect(problems({ CLUSTER_HEARTBEAT_SECONDS: "10", CLUSTER_NODE_DOWN_SECONDS: "10" })).toEqual([expect.stringContaining("CLUSTER_NODE_DOWN_SECONDS=10: expected more than CLUSTER_HEARTBEAT_SECONDS")]);
  expect(problems({ CLUSTER_NODE_DOWN_SECONDS: "60", CLUSTER_NODE_FORGET_SECONDS: "60" })).toEqual([expect.stringContaining("CLUSTER_NODE_FORGET_SECONDS=60: expected more than CLUSTER_NODE_DOWN_SECONDS")]);
});

describe("CLUSTER_NAME and CLUSTER_API_KEY", () => {
  test("defaults: cluster default, no default key", () => {
    expect(parseConfig({}).cluster).toEqual({ name: "default", heartbeatSeconds: 5, downAfterSeconds: 15, forgetAfterSeconds: 600 });
  });

  test("set values are kept, frozen", () => {
    const config = parseConfig({ CLUSTER_NAME: "eu-1", CLUSTER_API_KEY: "k".repeat(32) });
    expect(config.cluster).toMatchObject({ name: "eu-1", apiKey: "k".repeat(32) });
    expect(Object.isFrozen(config.cluster)).toBe(true);
  });

  test("a bad name stops start-up naming the variable", () => {
    expect(problems({ CLUSTER_NAME: "Prod Cluster" })[0]).toStartWith('CLUSTER_NAME="Prod Cluster": expected');
  });

  test("a short or spaced key stops start-up naming the variable, never echoing the value", () => {
    for (const key of ["short-key", `${"k".repeat(20)} ${"k".repeat(20)}`]) {
      const found = problems({ CLUSTER_API_KEY: key });
      expect(found).toHaveLength(1);
      expect(found[0]).toStartWith("CLUSTER_API_KEY: expected at least 32");
      expect(found[0]).not.toContain(key);
    }
  });
});
