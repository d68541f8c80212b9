/**
 * `just metrics [pattern]` against a running gateway: the whole /metrics
 * text, or the lines matching a pattern; a pattern nothing matches is an error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { ROOT } from "../helpers/gateway-process";
import { justBinary } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

async function just(...args: string[]) {
  const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", API_URL: `http://127.0.0.1:${gw.gateway.apiPort}` },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}

describe.skipIf(!justBinary)("just metrics", () => {
  test("prints /metrics, or only the lines matching a pattern", async () => {
    const all = await just("metrics");
    expect(all.code).toBe(0);
    expect(all.stdout).toContain("# TYPE portcullis_redis_up gauge");
    expect(all.stdout).toContain("process_resident_memory_bytes");

    const some = await just("metrics", "^portcullis_(build_info|redis_up)");
    expect(some.code).toBe(0);
    expect(some.stdout.trim().split("\n")).toEqual([expect.stringMatching(/^portcullis_build_info\{version="[^"]+"\} 1$/), "portcullis_redis_up 1"]);
  });

  test("a pattern nothing matches exits non-zero and says so", async () => {
    const none = await just("metrics", "no_such_series");
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("no series match no_such_series");
  });
});
