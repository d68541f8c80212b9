/**
 * The data dir lock: one holder at a time, whether the other holder is this
 * process or another one; the kernel frees it when the holder dies.
 */
import { afterEach, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { DataDirInUseError, LOCK_FILE, lockDataDir } from "../../src/storage/data-dir-lock";
import { tempDir } from "../helpers/temp";

const LOCK_MODULE = resolve(import.meta.dir, "../../src/storage/data-dir-lock.ts");
const children: Subprocess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await child.exited;
  }
});

/** Another process that takes the lock, says so, and keeps it until killed. */
async function holdInAnotherProcess(dir: string): Promise<Subprocess<"ignore", "pipe", "inherit">> {
  const code = `const { lockDataDir } = await import(${JSON.stringify(LOCK_MODULE)}); lockDataDir(${JSON.stringify(dir)}); console.log("locked"); setInterval(() => {}, 1000);`;
  const child = Bun.spawn([process.execPath, "-e", code], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  children.push(child);
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  expect(new TextDecoder().decode(value)).toContain("locked");
  return child;
}

test("a second lock on a held dir fails and names the holder; released, it can be taken again", () => {
  const dir = tempDir("lock");
  const first = lockDataDir(dir);
  expect(readFileSync(join(dir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
  expect(statSync(join(dir, LOCK_FILE)).mode & 0o777).toBe(0o600);

  expect(() => lockDataDir(dir)).toThrow(new DataDirInUseError(`another gateway is using ${dir} (pid ${process.pid})`));
  // The failed attempt left the holder's pid in place.
  expect(readFileSync(join(dir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));

  first.release();
  first.release(); // a second release is harmless
  const again = lockDataDir(dir);
  again.release();
});

test("a lock held by another process is refused with its pid, and freed when that process is killed", async () => {
  const dir = tempDir("lock");
  const holder = await holdInAnotherProcess(dir);
  expect(() => lockDataDir(dir)).toThrow(`another gateway is using ${dir} (pid ${holder.pid})`);

  holder.kill("SIGKILL");
  await holder.exited;
  // Its pid is still in the file; only the kernel's lock counts.
  expect(readFileSync(join(dir, LOCK_FILE), "utf8").trim()).toBe(String(holder.pid));
  const lock = lockDataDir(dir);
  expect(readFileSync(join(dir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
  lock.release();
});

test("a lock file copied from elsewhere (a restored backup) does not block", () => {
  const dir = tempDir("lock");
  writeFileSync(join(dir, LOCK_FILE), "1\n", { mode: 0o600 });
  const lock = lockDataDir(dir);
  lock.release();
});
