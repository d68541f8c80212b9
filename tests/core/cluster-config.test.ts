import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../src/core/config";

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}

describe("CLUSTER_NAME and CLUSTER_API_KEY", () => {
  test("defaults: cluster default, no default key", () => {
    expect(parseConfig({}).cluster).toEqual({ name: "default" });
  });

  test("set values are kept, frozen", () => {
    const config = parseConfig({ CLUSTER_NAME: "eu-1", CLUSTER_API_KEY: "k".repeat(32) });
    expect(config.cluster).toEqual({ name: "eu-1", apiKey: "k".repeat(32) });
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
