import { expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../src/core/config";
import { unknownVariableWarnings } from "../../src/core/env-warnings";
import { parseWorkers } from "../../src/core/workers-config";
import { ALLOCATOR_DEFAULTS, readWorkerRole, workerEnv, workerNodeId, WORKER_INDEX_VAR } from "../../src/workers/worker-env";
import { selfCommand } from "../../src/workers/worker-process";

test("PORTCULLIS_WORKERS: auto is the core count, 0 is no supervisor, anything else names the variable", () => {
  const problems: string[] = [];
  expect(parseWorkers(undefined, problems, () => 8)).toBe(8);
  expect(parseWorkers("AUTO", problems, () => 1)).toBe(1);
  expect(parseWorkers("0", problems)).toBe(0);
  expect(parseWorkers("3", problems)).toBe(3);
  expect(problems).toEqual([]);
  for (const bad of ["-1", "two", "1.5", "257"]) {
    const found: string[] = [];
    parseWorkers(bad, found);
    expect(found).toHaveLength(1);
    expect(found[0]).toStartWith(`PORTCULLIS_WORKERS=${JSON.stringify(bad)}: expected auto, 0`);
  }
  expect(() => parseConfig({ PORTCULLIS_WORKERS: "many" })).toThrow(ConfigError);
  expect(parseConfig({ PORTCULLIS_WORKERS: "2" }).workers).toBe(2);
});

test("a worker's environment: resolved ports, its node id, its role; the supervisor's Redis only when embedded", () => {
  const env = workerEnv(
    { PATH: "/bin", HTTP_PORT: "0", NODE_ID: "ignored", [WORKER_INDEX_VAR]: "7", UNSET: undefined },
    { index: 1, nodeId: "edge-1", ports: { HTTP_PORT: 8080, HTTPS_PORT: 8443, API_PORT: 9000 }, embeddedRedis: { path: "/d/redis.sock", password: "pw" } },
  );
  expect(env).toMatchObject({ PATH: "/bin", HTTP_PORT: "8080", HTTPS_PORT: "8443", API_PORT: "9000", NODE_ID: "edge-1-w1", [WORKER_INDEX_VAR]: "1" });
  expect("UNSET" in env).toBe(false);
  expect("PROXY_PROTOCOL_PORT" in env).toBe(false);
  expect(readWorkerRole(env)).toEqual({ index: 1, embeddedRedis: { path: "/d/redis.sock", password: "pw" } });
  const external = workerEnv(env, { index: 0, nodeId: "n", ports: { HTTP_PORT: 1, HTTPS_PORT: 2, API_PORT: 3, PROXY_PROTOCOL_PORT: 4 } });
  expect(readWorkerRole(external)).toEqual({ index: 0, embeddedRedis: undefined });
  expect(external.PROXY_PROTOCOL_PORT).toBe("4");
  expect(readWorkerRole({})).toBeNull();
  expect(readWorkerRole({ [WORKER_INDEX_VAR]: "x" })).toBeNull();
  // Still a valid NODE_ID (64 characters at most).
  expect(workerNodeId("n".repeat(64), 12)).toBe(`${"n".repeat(60)}-w12`);
  expect(parseConfig({ NODE_ID: workerNodeId("n".repeat(64), 255) }).observability.nodeId).toHaveLength(64);
});

test("workers keep the memory they free (MIMALLOC_PURGE_DELAY=-1) unless the operator set their own value", () => {
  const ports = { HTTP_PORT: 1, HTTPS_PORT: 2, API_PORT: 3 };
  expect(ALLOCATOR_DEFAULTS).toEqual({ MIMALLOC_PURGE_DELAY: "-1" });
  expect(workerEnv({ PATH: "/bin" }, { index: 0, nodeId: "n", ports }).MIMALLOC_PURGE_DELAY).toBe("-1");
  expect(workerEnv({ MIMALLOC_PURGE_DELAY: "10" }, { index: 0, nodeId: "n", ports }).MIMALLOC_PURGE_DELAY).toBe("10");
});

test("the worker variables set by the supervisor draw no typo warning", () => {
  expect(unknownVariableWarnings({ PORTCULLIS_WORKER_INDEX: "0", PORTCULLIS_WORKER_REDIS_SOCKET: "/x", PORTCULLIS_WORKER_REDIS_PASSWORD: "p" })).toEqual([]);
  expect(unknownVariableWarnings({ PORTCULLIS_WORKER: "2" }).join()).toContain("PORTCULLIS_WORKERS");
});

test("workers run the same program: a compiled binary's embedded entry point is not passed again", () => {
  expect(selfCommand("/usr/local/bin/portcullis", ["bun", "/$bunfs/root/portcullis", "serve"])).toEqual(["/usr/local/bin/portcullis", "serve"]);
  expect(selfCommand("/usr/bin/bun", ["/usr/bin/bun", "/src/main.ts", "serve"])).toEqual(["/usr/bin/bun", "/src/main.ts", "serve"]);
});
