/**
 * Every process and temp dir the harness creates is registered here, so one
 * cleanup stops and removes them all: at the end of a run, on an error, and on
 * Ctrl-C. A benchmark that leaves an nginx or a redis-server behind skews the
 * next run on a 2-core machine.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

type Readable = "pipe" | "ignore" | "inherit";

const children = new Set<Subprocess>();
const tempDirs = new Set<string>();
/** Set once cleanup starts: nothing new may start while the old ones are stopping. */
let stopping = false;

export function spawnChild<Out extends Readable, Err extends Readable>(
  cmd: string[],
  options: { stdout: Out; stderr: Err; env?: Record<string, string>; cwd?: string },
): Subprocess<"ignore", Out, Err> {
  if (stopping) throw new Error(`not starting ${cmd[0]}: the benchmark is stopping`);
  const child = Bun.spawn(cmd, { ...options, stdin: "ignore" });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

/**
 * SIGTERM, then SIGKILL after graceMs. Portcullis needs the grace: it stops its
 * embedded redis-server on SIGTERM, which a SIGKILL would orphan.
 */
export async function stopChild(child: Subprocess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  try {
    await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

export function makeTempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${label}-`));
  tempDirs.add(dir);
  return dir;
}

export async function cleanup(): Promise<void> {
  stopping = true;
  await Promise.all([...children].map((child) => stopChild(child)));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let cleaningUp: Promise<void> | undefined;

/** Ctrl-C / SIGTERM: stop children gracefully, remove temp dirs, exit 128+signal. */
export function installExitHandlers(): void {
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    process.on(signal, () => {
      if (cleaningUp) return; // a second Ctrl-C while stopping: keep stopping
      console.error(`\n${signal}: stopping the benchmark processes…`);
      cleaningUp = cleanup().finally(() => process.exit(code));
    });
  };
  onSignal("SIGINT", 130);
  onSignal("SIGTERM", 143);
  // Last resort when the harness exits some other way (an uncaught error): the
  // exit hook cannot await, so it only signals and removes what is left.
  process.on("exit", () => {
    for (const child of children) child.kill("SIGTERM");
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Drains a child's stdout and stderr (a full pipe would block the child) and keeps
 * the last part of it for error messages and for start-up lines such as
 * "listening <port>".
 */
export class OutputTail {
  private text = "";
  /** Resolves when every stream has ended (the child exited and its pipes are drained). */
  readonly done: Promise<void>;

  constructor(
    streams: readonly ReadableStream<Uint8Array>[],
    private readonly options: { readonly limit?: number; readonly echo?: boolean } = {},
  ) {
    this.done = Promise.all(streams.map((stream) => this.pump(stream))).then(() => undefined);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const limit = this.options.limit ?? 64 * 1024;
    for await (const chunk of stream) {
      if (this.options.echo) process.stdout.write(chunk);
      this.text += decoder.decode(chunk, { stream: true });
      if (this.text.length > limit) this.text = this.text.slice(-limit);
    }
  }

  get value(): string {
    return this.text;
  }

  /** Resolves with the first match of pattern; throws if the child exits or time runs out. */
  async waitFor(pattern: RegExp, child: Subprocess, what: string, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(this.text);
      if (match) return match;
      if (child.exitCode !== null || child.signalCode !== null) break;
      await Bun.sleep(20);
    }
    throw new Error(`${what} did not start (exit ${child.exitCode ?? child.signalCode ?? "none"}):\n${this.text}`);
  }
}

/** Ports freePort returned in this process. */
const handedOut = new Set<number>();

/** A loopback TCP port that was free a moment ago (for programs that cannot bind port 0 and report it). */
export function freePort(): number {
  for (;;) {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    // The kernel may hand a port it just gave out again: a gateway would then be told to bind two listeners to one port.
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}
