import { join } from "node:path";
import { ROOT } from "./gateway-process";

/** The `just` binary, when this machine has one (the recipe tests skip without it). */
export const justBinary = Bun.which("just");

/**
 * A recipe's command line under `just --dry-run`, joined onto one line and cut
 * to start at `--token` or the first of `cliWords` (the CLI's command names):
 * the path to the binary (or bun) in front of them varies.
 */
export async function justDryRun(home: string, cliWords: readonly string[], ...args: string[]): Promise<{ code: number; line: string; stderr: string }> {
  const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), "--dry-run", ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, API_URL: "http://127.0.0.1:1" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const line = (stdout + stderr).replace(/\s*\\\n\s*/g, " ").replace(/\s+/g, " ").trim();
  return { code, line: line.slice(line.search(new RegExp(` (--token|${cliWords.join("|")}) `)) + 1), stderr };
}
