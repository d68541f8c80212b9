/**
 * `portcullis version` of the compiled binary names the git commit it was
 * built from (scripts/build.ts embeds it); the sources say "unknown" (tested
 * in tests/cli/operator-cli.test.ts).
 */
import { beforeAll, expect, test } from "bun:test";
import { BINARY, ensureBinary, ROOT, runCli } from "../helpers/gateway-process";

beforeAll(async () => {
  await ensureBinary();
}, 300_000);

function git(...args: string[]): string {
  return Bun.spawnSync(["git", ...args], { cwd: ROOT }).stdout.toString().trim();
}

test("the built binary prints its version and the commit of the sources it was built from", async () => {
  const head = git("rev-parse", "--short=12", "HEAD");
  expect(head).toMatch(/^[0-9a-f]{12}$/);
  const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
  const commit = dirty ? `${head}-dirty` : head;
  const version = await runCli(["version"], {});
  expect(version).toMatchObject({ code: 0, stderr: "" });
  expect(version.stdout).toMatch(new RegExp(`^\\d+\\.\\d+\\.\\d+ \\(commit ${commit}\\)\\n$`));
  expect(JSON.parse((await runCli(["version", "--format", "json"], {})).stdout)).toEqual({ version: expect.any(String), commit });
  expect((await runCli(["--version"], {})).stdout).toBe(version.stdout);
  expect(BINARY).toEndWith("dist/portcullis");
});
