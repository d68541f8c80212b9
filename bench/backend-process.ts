/** Starts bench/backend.ts in its own process and learns the port it bound. */
import { join } from "node:path";
import { OutputTail, spawnChild, stopChild } from "./processes";

export interface RunningBackend {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startBackend(): Promise<RunningBackend> {
  const child = spawnChild([process.execPath, join(import.meta.dir, "backend.ts")], { stdout: "pipe", stderr: "pipe" });
  const output = new OutputTail([child.stdout, child.stderr]);
  const match = await output.waitFor(/^listening (\d+)$/m, child, "bench/backend.ts", 10_000);
  return { port: Number(match[1]), stop: () => stopChild(child) };
}
