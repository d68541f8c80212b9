/** Temporary directories for tests, removed when the test run ends (see tests/preload.ts). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created: string[] = [];

export function tempDir(purpose: string): string {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-${purpose}-`));
  created.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
