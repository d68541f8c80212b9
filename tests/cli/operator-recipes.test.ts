/** The just recipes over `status`, `version`, `completion` and `token delete --yes`: their command lines, and completion run for real. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ROOT } from "../helpers/gateway-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("operator-recipes");
/** justDryRun cuts the line at a CLI word followed by a space; `status` and `version` end it, so cut again here. */
const dryRun = async (...args: string[]) => {
  const run = await justDryRun(HOME, ["status", "version", "completion", "token"], ...args);
  const at = run.line.search(/(^| )(--token|status|version|completion|token)( |$)/);
  return { ...run, line: at < 0 ? run.line : run.line.slice(at).trim() };
};

describe.skipIf(!justBinary)("operator recipes (dry run)", () => {
  const cases: [string[], string][] = [
    [["overview"], "status"],
    [["overview", "tok"], "--token 'tok' status"],
    [["version"], "version"],
    [["completion", "bash"], "completion 'bash'"],
    [["token-delete", "ci"], "token delete 'ci'"],
    [["token-delete", "ci", "", "true"], "token delete 'ci' --yes"],
    [["token-delete", "ci", "tok", "false"], "--token 'tok' token delete 'ci'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  test("token-delete yes=maybe stops before running anything", async () => {
    const { code, stderr } = await dryRun("token-delete", "ci", "", "maybe");
    expect(code).not.toBe(0);
    expect(stderr).toContain('yes: expected true or false, got \'maybe\'');
  });
});

describe.skipIf(!justBinary)("just completion bash, run", () => {
  test("prints a script bash accepts", async () => {
    const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), "completion", "bash"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, script] = await Promise.all([child.exited, new Response(child.stdout).text()]);
    expect(code).toBe(0);
    expect(script).toContain("complete -F _portcullis portcullis");
    const check = Bun.spawnSync(["bash", "-n"], { stdin: new TextEncoder().encode(script), stderr: "pipe" });
    expect({ code: check.exitCode, stderr: check.stderr.toString() }).toEqual({ code: 0, stderr: "" });
  }, 30_000);
});
