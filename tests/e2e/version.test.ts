/**
 * `portcullis version` of the compiled binary names the git commit it was
 * built from (scripts/build.ts embeds it); the sources say "unknown" (tested
 * in tests/cli/operator-cli.test.ts).
 */
import { beforeAll, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { BINARY, ensureBinary, ROOT, runCli } from "../helpers/gateway-process";

beforeAll(async () => {
  await ensureBinary();
}, 300_000);

function git(...args: string[]): string {
  return Bun.spawnSync(["git", ...args], { cwd: ROOT }).stdout.toString().trim();
}

test("the built binary prints its version and the commit of the sources it was built from", async () => {
  const version = await runCli(["version"], {});
  expect(version).toMatchObject({ code: 0, stderr: "" });
  const match = /^\d+\.\d+\.\d+ \(commit ([0-9a-f]{12})(-dirty)?\)\n$/.exec(version.stdout);
  expect(match).not.toBeNull();
  const commit = match![1]!;
  // The commit the binary names is one of this checkout's: HEAD itself, or an
  // ancestor when a commit was made after the binary was built in this test run.
  const known = Bun.spawnSync(["git", "merge-base", "--is-ancestor", commit, "HEAD"], { cwd: ROOT });
  expect(known.exitCode).toBe(0);
  // Built after HEAD was committed: then it must be HEAD.
  if (Number(git("log", "-1", "--format=%ct")) * 1000 < statSync(BINARY).mtimeMs - 1000) expect(commit).toBe(git("rev-parse", "--short=12", "HEAD"));
  expect(JSON.parse((await runCli(["version", "--format", "json"], {})).stdout)).toEqual({ version: expect.any(String), commit: commit + (match![2] ?? "") });
  expect((await runCli(["--version"], {})).stdout).toBe(version.stdout);
  expect(BINARY).toEndWith("dist/portcullis");
});
