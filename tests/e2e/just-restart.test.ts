/**
 * `just restart` on a gateway `just up` started: with its supervisor running it
 * is `portcullis restart` (new workers, the same supervisor, no downtime); with
 * PORTCULLIS_WORKERS=0 it falls back to `just down` + `just up`.
 */
import { beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readStatus } from "../../src/workers/status-file";
import { ensureBinary, ROOT } from "../helpers/gateway-process";
import { justBinary } from "../helpers/just-dry-run";
import { preChosenPort } from "../helpers/ports";
import { tempDir } from "../helpers/temp";

beforeAll(() => ensureBinary(), 120_000);

function justEnv(dataDir: string, workers: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    SHELL: "/bin/sh",
    TERM: "dumb",
    PORTCULLIS_DATA_DIR: dataDir,
    PORTCULLIS_WORKERS: workers,
    SERVER_HOST: "127.0.0.1",
    API_PORT: String(preChosenPort()),
    HTTP_PORT: "0",
    HTTPS_PORT: "0",
    PROXY_PROTOCOL_PORT: "0",
    AUTO_CERTIFICATES: "false",
  };
}

async function just(env: Record<string, string>, recipe: string) {
  const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), recipe], { cwd: ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, output: stdout + stderr };
}

const pidIn = (dataDir: string) => Number(readFileSync(join(dataDir, "portcullis.pid"), "utf8").trim());

test.skipIf(!justBinary)("with the supervisor: the same supervisor, new workers, generation 2", async () => {
  const dataDir = tempDir("just-restart");
  const env = justEnv(dataDir, "1");
  expect((await just(env, "up")).code).toBe(0);
  try {
    const supervisor = pidIn(dataDir);
    const before = readStatus(dataDir)!;
    expect(before.supervisor_pid).toBe(supervisor);
    const restarted = await just(env, "restart");
    expect(restarted.code).toBe(0);
    expect(restarted.output).toContain(`restarted (supervisor pid ${supervisor}, generation 2)`);
    expect(pidIn(dataDir)).toBe(supervisor);
    expect(readStatus(dataDir)!.workers[0]!.pid).not.toBe(before.workers[0]!.pid);
  } finally {
    expect((await just(env, "down")).code).toBe(0);
  }
}, 120_000);

test.skipIf(!justBinary)("one process (PORTCULLIS_WORKERS=0): down + up, a new process", async () => {
  const dataDir = tempDir("just-restart");
  const env = justEnv(dataDir, "0");
  expect((await just(env, "up")).code).toBe(0);
  try {
    const first = pidIn(dataDir);
    expect(readStatus(dataDir)).toBeNull();
    const restarted = await just(env, "restart");
    expect(restarted.code).toBe(0);
    expect(restarted.output).toContain(`portcullis stopped (pid ${first})`);
    expect(restarted.output).toContain("portcullis is up");
    expect(pidIn(dataDir)).not.toBe(first);
  } finally {
    expect((await just(env, "down")).code).toBe(0);
  }
}, 120_000);
