/** REDIS_URL / REDIS_SENTINELS / REDIS_SENTINEL_NAME / REDIS_SENTINEL_PASSWORD: which Redis the gateway uses. */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/core/config";
import { parseSentinelList } from "../../src/core/redis-config";
import { unknownVariableWarnings } from "../../src/core/env-warnings";
import { describe as describeRedis } from "../../src/storage/redis-connection";
import { configProblems as problemsOf } from "../helpers/config-problems";


describe("redis settings", () => {
  test("unset: the embedded server; REDIS_URL: that server", () => {
    expect(parseConfig({}).redis).toEqual({ mode: "embedded", serverBinary: "redis-server", password: undefined });
    expect(parseConfig({ REDIS_URL: "redis://r:6379/1", REDIS_PASSWORD: "pw" }).redis).toEqual({ mode: "external", url: "redis://r:6379/1", password: "pw" });
  });

  test("REDIS_SENTINELS: the master of the named group, database 0, the default sentinel port filled in", () => {
    const { redis } = parseConfig({ REDIS_SENTINELS: "10.0.0.5:26380, sentinel-b ,[::1]:26381", REDIS_SENTINEL_NAME: "portcullis", REDIS_PASSWORD: "data-pw" });
    expect(redis).toEqual({
      mode: "sentinel",
      sentinels: [
        { host: "10.0.0.5", port: 26380 },
        { host: "sentinel-b", port: 26379 },
        { host: "::1", port: 26381 },
      ],
      name: "portcullis",
      password: "data-pw",
      db: 0,
    });
  });

  test("with REDIS_URL too, the sentinels name the server and the URL gives user, password and database", () => {
    const { redis } = parseConfig({
      REDIS_SENTINELS: "127.0.0.1:26379",
      REDIS_SENTINEL_NAME: "main",
      REDIS_SENTINEL_PASSWORD: "sentinel-pw",
      REDIS_URL: "redis://app:url%20pw@ignored.example:6379/3",
      REDIS_PASSWORD: "loses-to-the-url",
    });
    expect(redis).toEqual({
      mode: "sentinel",
      sentinels: [{ host: "127.0.0.1", port: 26379 }],
      name: "main",
      sentinelPassword: "sentinel-pw",
      username: "app",
      password: "url pw",
      db: 3,
    });
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["a sentinel without a host", { REDIS_SENTINELS: ":26379", REDIS_SENTINEL_NAME: "m" }, /^REDIS_SENTINELS: ":26379" is not host:port; expected comma-separated host:port/],
    ["a sentinel port out of range", { REDIS_SENTINELS: "a:70000", REDIS_SENTINEL_NAME: "m" }, /^REDIS_SENTINELS: "a:70000": port 70000 is outside 1-65535/],
    ["only commas", { REDIS_SENTINELS: ", ,", REDIS_SENTINEL_NAME: "m" }, /^REDIS_SENTINELS: no sentinel address given/],
    ["a URL in the list", { REDIS_SENTINELS: "redis://a:26379", REDIS_SENTINEL_NAME: "m" }, /^REDIS_SENTINELS: "redis:\/\/a:26379" is not host:port/],
    ["sentinels without a group name", { REDIS_SENTINELS: "a:26379" }, /^REDIS_SENTINEL_NAME: required with REDIS_SENTINELS/],
    ["a group name with spaces", { REDIS_SENTINELS: "a:26379", REDIS_SENTINEL_NAME: "my master" }, /^REDIS_SENTINEL_NAME="my master": expected a master group name/],
    ["a group name without sentinels", { REDIS_SENTINEL_NAME: "m" }, /^REDIS_SENTINEL_NAME: set only together with REDIS_SENTINELS/],
    ["a sentinel password without sentinels", { REDIS_SENTINEL_PASSWORD: "x" }, /^REDIS_SENTINEL_PASSWORD: set only together with REDIS_SENTINELS/],
    ["TLS with sentinels", { REDIS_SENTINELS: "a", REDIS_SENTINEL_NAME: "m", REDIS_URL: "rediss://b:6380/0" }, /^REDIS_URL: rediss:\/\/ \(TLS\) is not supported together with REDIS_SENTINELS/],
    ["a bad database with sentinels", { REDIS_SENTINELS: "a", REDIS_SENTINEL_NAME: "m", REDIS_URL: "redis://b/x" }, /^REDIS_URL: the path must be a database index/],
  ];
  for (const [name, env, expected] of bad) {
    test(`rejects ${name}`, () => {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(expected);
    });
  }

  test("never echoes a sentinel password", () => {
    const secret = "sentinel-secret-value";
    expect(problemsOf({ REDIS_SENTINEL_PASSWORD: secret }).join()).not.toContain(secret);
  });

  test("the sentinel variables are known: a typo of one is warned about, the right names are not", () => {
    expect(unknownVariableWarnings({ REDIS_SENTINELS: "a", REDIS_SENTINEL_NAME: "m", REDIS_SENTINEL_PASSWORD: "p" })).toEqual([]);
    expect(unknownVariableWarnings({ REDIS_SENTINEL_NAMES: "m" })).toEqual(["REDIS_SENTINEL_NAMES is set but portcullis does not read it; did you mean REDIS_SENTINEL_NAME?"]);
  });

  test("the description logged for a sentinel group holds no password", () => {
    const text = describeRedis({ sentinels: [{ host: "10.0.0.5", port: 26379 }, { host: "::1", port: 26380 }], name: "main", sentinelPassword: "s-pw", password: "d-pw", db: 2 });
    expect(text).toBe("sentinel:main@10.0.0.5:26379,[::1]:26380/2");
  });

  test("duplicate sentinels are listed once", () => {
    expect(parseSentinelList("a:1,a:1,a")).toEqual([
      { host: "a", port: 1 },
      { host: "a", port: 26379 },
    ]);
  });
});
