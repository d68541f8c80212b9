/**
 * Runs bench/stream-rss.ts (1 GiB up and down through Portcullis, RSS growth),
 * which is written separately, and returns its output for the report as it is.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { OutputTail, spawnChild, stopChild } from "./processes";

const TIMEOUT_MS = 10 * 60_000;

export async function runStreamRss(root: string): Promise<{ readonly text: string; readonly ok: boolean }> {
  const script = join(root, "bench/stream-rss.ts");
  if (!existsSync(script)) return { text: "skipped: bench/stream-rss.ts not present", ok: true };
  const child = spawnChild([process.execPath, script], { stdout: "pipe", stderr: "pipe", cwd: root });
  // Echoed live as well: moving a GiB twice takes a while, and silence looks like a hang.
  const output = new OutputTail([child.stdout, child.stderr], { echo: true });
  const timer = setTimeout(() => void stopChild(child), TIMEOUT_MS);
  try {
    const [code] = await Promise.all([child.exited, output.done]);
    if (code === 0) return { text: output.value, ok: true };
    return { text: `${output.value}\nfailed: bench/stream-rss.ts exited with ${code ?? child.signalCode}`, ok: false };
  } finally {
    clearTimeout(timer);
  }
}
