/** bench/request-log-cost.ts runs end to end (a real redis-server) and refuses arguments it cannot use. */
import { expect, test } from "bun:test";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "../../bench/request-log-cost.ts");

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, SCRIPT, ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

test("every mode prints its per-record figures; the flush writes every record (the script checks it)", async () => {
  const { code, stdout, stderr } = await run("--records", "600", "--batch", "256", "--rounds", "1");
  expect(stderr).not.toContain("error");
  expect(code).toBe(0);
  for (const mode of ["off", "hot", "on"]) {
    expect(stdout).toMatch(new RegExp(`^${mode} +records 600, batch 256: drafting \\d+\\.\\d\\d µs/record, flush \\d+\\.\\d\\d µs/record, Redis \\d+\\.\\d\\d µs/record`, "m"));
  }
});

test("an unknown mode or a batch of 0 is refused with the usage", async () => {
  for (const args of [["--mode", "fast"], ["--batch", "0"]]) {
    const { code, stderr } = await run(...args);
    expect(code).toBe(2);
    expect(stderr).toContain("usage: bun bench/request-log-cost.ts");
  }
});
