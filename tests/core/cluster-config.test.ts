/** CLUSTER_HEARTBEAT_SECONDS, CLUSTER_NODE_DOWN_SECONDS, CLUSTER_NODE_FORGET_SECONDS: defaults, each read, bad values and orderings named. */
import { expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../src/core/config";

const problems = (env: Record<string, string>): string[] => {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
};

test("defaults: a heartbeat every 5 s, down after 3 missed (15 s), forgotten after 10 minutes", () => {
  expect(parseConfig({}).cluster).toEqual({ heartbeatSeconds: 5, downAfterSeconds: 15, forgetAfterSeconds: 600 });
});

test("the down threshold follows the heartbeat unless set", () => {
  expect(parseConfig({ CLUSTER_HEARTBEAT_SECONDS: "2" }).cluster).toEqual({ heartbeatSeconds: 2, downAfterSeconds: 6, forgetAfterSeconds: 600 });
  expect(parseConfig({ CLUSTER_HEARTBEAT_SECONDS: "1", CLUSTER_NODE_DOWN_SECONDS: "4", CLUSTER_NODE_FORGET_SECONDS: "30" }).cluster).toEqual({
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
