#!/usr/bin/env bun
/**
 * Compiles the single executable (default dist/portcullis; --outfile to change
 * it) with the git commit it is built from embedded, so `portcullis version`
 * can say which sources a binary holds. PORTCULLIS_BUILD_COMMIT overrides the
 * commit (a Docker build has no .git); without either it is "unknown".
 */
import { spawnSync } from "node:child_process";

function git(...args: string[]): string | undefined {
  const run = spawnSync("git", args, { encoding: "utf8" });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

function buildCommit(): string {
  const given = process.env.PORTCULLIS_BUILD_COMMIT?.trim();
  if (given) return given;
  const head = git("rev-parse", "--short=12", "HEAD");
  if (!head) return "unknown";
  // Tracked files changed since the commit: the binary is not exactly that commit.
  const dirty = git("status", "--porcelain", "--untracked-files=no");
  return dirty ? `${head}-dirty` : head;
}

const at = process.argv.indexOf("--outfile");
const outfile = at >= 0 ? process.argv[at + 1] : "dist/portcullis";
if (!outfile) {
  console.error("scripts/build.ts: --outfile needs a path");
  process.exit(2);
}
const command = [
  process.execPath,
  "build",
  "--compile",
  "--minify",
  "--sourcemap",
  "--define",
  `PORTCULLIS_BUILD_COMMIT=${JSON.stringify(buildCommit())}`,
  "src/main.ts",
  "--outfile",
  outfile,
];
const result = spawnSync(command[0]!, command.slice(1), { stdio: "inherit" });
process.exit(result.status ?? 1);
