/** The OAuth-flow and audit log recipes wrap the CLI (`just --dry-run`): arguments by position, empty ones left out. */
import { describe, expect, test } from "bun:test";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("just-home");

describe.skipIf(!justBinary)("just logs-oauth*, logs-audit (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["--format", "logs"], ...args);
  const cases: [string[], string][] = [
    [["logs-oauth", "10.0.0.7"], "logs oauth --ip '10.0.0.7'"],
    [["logs-oauth", "10.0.0.7", "6", "20", "tok"], "--token 'tok' logs oauth --ip '10.0.0.7' --hours '6' --limit '20'"],
    [["logs-oauth-debug", "10.0.0.7", "6"], "--format json logs oauth --ip '10.0.0.7' --hours '6'"],
    [["logs-oauth-flow", "client-1"], "logs oauth-flow --client-id 'client-1'"],
    [["logs-oauth-flow", "", "alice", "48"], "logs oauth-flow --user 'alice' --hours '48'"],
    [["logs-oauth-flow", "client-1", "alice", "", "tok"], "--token 'tok' logs oauth-flow --client-id 'client-1' --user 'alice'"],
    [["logs-audit"], "logs audit"],
    [["logs-audit", "ci-bot", "72", "/api/v1/proxy/*", "10", "tok"], "--token 'tok' logs audit --token 'ci-bot' --hours '72' --path '/api/v1/proxy/*' --limit '10'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  test("logs-oauth-flow without a client or a user stops before running anything", async () => {
    const { code, stderr } = await dryRun("logs-oauth-flow");
    expect(code).not.toBe(0);
    expect(stderr).toContain("give a client-id or a username");
  });
});
