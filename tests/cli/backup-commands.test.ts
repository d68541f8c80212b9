/**
 * `portcullis backup` / `restore` as commands (output formats, settings
 * errors) and the `just backup` / `just restore` recipes that wrap them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { runProgramIn } from "../helpers/cli-program";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

/** The real program with `env` as its environment, output captured. */
const portcullis = (env: Record<string, string>, ...args: string[]) => runProgramIn(env, args);

let source: TestRedis;
let target: TestRedis;
beforeAll(async () => {
  [source, target] = await Promise.all([startTestRedis(), startTestRedis()]);
  await source.client.set("proxy:a.example.com", "{}");
});
afterAll(async () => {
  await source?.stop();
  await target?.stop();
});

describe("portcullis backup / restore", () => {
  test("table: one line each; json and yaml: the whole report", async () => {
    const file = join(tempDir("backup"), "b.tar.gz");
    const env = { REDIS_URL: source.url, PORTCULLIS_DATA_DIR: tempDir("data") };
    const table = await portcullis(env, "backup", file);
    expect(table).toEqual({
      code: 0,
      stdout: `backup of 1 key from redis://127.0.0.1:${source.port}/0 Redis written to ${file} (${Bun.file(file).size} bytes)\n`,
      stderr: "It holds secrets (the API tokens' records, signing keys): keep it as private as the data dir.\n",
    });
    const json = JSON.parse((await portcullis(env, "--format", "json", "backup", file)).stdout);
    expect(json).toMatchObject({ file, key_count: 1, secrets_key: "absent", admin_token: false, source: { redis: `redis://127.0.0.1:${source.port}/0`, database: 0 } });

    const restoreEnv = { REDIS_URL: target.url, PORTCULLIS_DATA_DIR: tempDir("restored") };
    const restored = await portcullis(restoreEnv, "--format", "yaml", "restore", file);
    expect(restored.code).toBe(0);
    expect(parseYaml(restored.stdout)).toMatchObject({ keys_restored: 1, keys_expired: 0, redis: `redis://127.0.0.1:${target.port}/0`, written: [], backup: { key_count: 1 } });
    expect(await target.client.get("proxy:a.example.com")).toBe("{}");
  });

  test("the settings `serve` reads: an invalid one exits 2 naming it, as serve does", async () => {
    const run = await portcullis({ REDIS_URL: "ftp://nowhere", PORTCULLIS_DATA_DIR: tempDir("data") }, "backup", join(tempDir("backup"), "x.tar.gz"));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('REDIS_URL: scheme "ftp:" is not supported');
  });

  test("a missing archive: exit 1, one line", async () => {
    const missing = join(tempDir("backup"), "missing.tar.gz");
    const run = await portcullis({ REDIS_URL: target.url, PORTCULLIS_DATA_DIR: tempDir("data") }, "restore", missing);
    expect(run).toEqual({ code: 1, stdout: "", stderr: `portcullis: cannot read ${missing}: ENOENT\n` });
  });

  test("both are in the help, with the warning that the archive holds secrets", async () => {
    const help = (await portcullis({}, "--help")).stdout;
    expect(help).toMatch(/backup \[options\] <file>\s+Write this machine's gateway to one archive/);
    expect(help).toContain("it holds secrets");
    expect(help).toMatch(/restore \[options\] <file>\s+Restore a backup archive/);
  });
});

describe.skipIf(!justBinary)("just backup / just restore (dry run)", () => {
  const HOME = tempDir("home");
  const dryRun = (...args: string[]) => justDryRun(HOME, ["backup", "restore"], ...args);

  test("a relative file is relative to where just was run; force=true adds --force", async () => {
    expect((await dryRun("backup", "nightly.tar.gz")).line).toBe(`backup '${join(process.cwd(), "nightly.tar.gz")}'`);
    expect((await dryRun("backup", "/srv/backups/b.tar.gz")).line).toBe("backup '/srv/backups/b.tar.gz'");
    expect((await dryRun("restore", "/srv/b.tar.gz")).line).toBe("restore '/srv/b.tar.gz'");
    expect((await dryRun("restore", "/srv/b.tar.gz", "true")).line).toBe("restore '/srv/b.tar.gz' --force");
  });

  test("force must be true or false", async () => {
    const run = await dryRun("restore", "/srv/b.tar.gz", "yes");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("force: expected true or false, got 'yes'");
  });
});
