/**
 * `just install`: the command on PATH after setup. Runs the real recipe into a
 * temporary directory and runs what it installed.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, ROOT } from "../helpers/gateway-process";
import { justBinary } from "../helpers/just-dry-run";
import { tempDir } from "../helpers/temp";

describe.skipIf(!justBinary)("just install", () => {
  const run = async (args: string[], env: Record<string, string>) => {
    const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), "install", ...args], { cwd: ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    return { code, out: stdout + stderr };
  };

  test("copies the binary into the directory given, executable, says where, and that it is not on PATH", async () => {
    await ensureBinary();
    const dir = join(tempDir("install"), "bin");
    const { code, out } = await run([dir], { PATH: process.env.PATH!, HOME: tempDir("home") });
    expect(code).toBe(0);
    const installed = join(dir, "portcullis");
    expect(out).toContain(`installed ${installed}`);
    expect(out).toContain(`${dir} is not on your PATH`);
    expect(statSync(installed).mode & 0o111).not.toBe(0);
    const help = Bun.spawnSync([installed, "--help"]);
    expect(help.stdout.toString()).toContain("Usage: portcullis");
    expect(existsSync(join(dir, "portcullis.new"))).toBe(false);
  }, 120_000);

  // As root /usr/local/bin is writable and rightly chosen; a test must not write there, so this runs for other users only.
  test.skipIf(process.getuid?.() === 0)("without a directory and without a writable /usr/local/bin, ~/.local/bin; no PATH note when it is on PATH", async () => {
    await ensureBinary();
    const home = tempDir("home");
    const local = join(home, ".local", "bin");
    const { code, out } = await run([], { PATH: `${local}:${process.env.PATH}`, HOME: home });
    expect(code).toBe(0);
    expect(out).toContain(`installed ${join(local, "portcullis")}`);
    expect(out).not.toContain("not on your PATH");
  }, 120_000);
});
