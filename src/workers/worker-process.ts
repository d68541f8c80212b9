/**
 * One worker process as the supervisor sees it: the same executable and
 * arguments as the supervisor, a role in its environment, and a "ready"
 * message over IPC once all its listeners are bound.
 */
import { constants } from "node:os";
import type { Subprocess } from "bun";

/** The message a worker sends when it serves; nothing else travels over the channel. */
export const READY_MESSAGE = "portcullis-worker-ready";

export interface WorkerProcess {
  readonly index: number;
  readonly pid: number;
  /** Resolves once the worker serves; never rejects (watch `exited` for a worker that never gets there). */
  readonly ready: Promise<void>;
  readonly isReady: boolean;
  /** The exit code, or 128 + the signal number when a signal ended it. */
  readonly exited: Promise<number>;
  /** The exit code once `exited` has settled; null while it runs. */
  readonly exitCode: number | null;
  /** SIGTERM: the worker drains (Connection: close), finishes what is in flight and exits. */
  stop(): void;
  kill(): void;
}

/**
 * How to start this program again: the binary's path as it was when the
 * supervisor started (a binary replaced since is the one that runs next) and
 * the same arguments. A compiled binary's argv[1] is its embedded entry point,
 * not an argument; under `bun run`, argv[1] is the script to run.
 */
export function selfCommand(execPath: string, argv: readonly string[]): string[] {
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  return [execPath, ...argv.slice(compiled ? 2 : 1)];
}

export function spawnWorker(command: readonly string[], env: Record<string, string>, index: number): WorkerProcess {
  let markReady = () => {};
  let isReady = false;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const child: Subprocess = Bun.spawn([...command], {
    env,
    stdin: "ignore",
    // Workers log straight to the supervisor's stdout/stderr (the journal, or `just up`'s log file).
    stdout: "inherit",
    stderr: "inherit",
    serialization: "json",
    ipc(message) {
      if (message === READY_MESSAGE) {
        isReady = true;
        markReady();
      }
    },
  });
  let exitCode: number | null = null;
  const exited = child.exited.then((code) => (exitCode = child.signalCode ? 128 + signalNumber(child.signalCode) : (code ?? 0)));
  return {
    index,
    pid: child.pid,
    ready,
    get isReady() {
      return isReady;
    },
    exited,
    get exitCode() {
      return exitCode;
    },
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

function signalNumber(signal: string | number): number {
  return typeof signal === "number" ? signal : (constants.signals[signal as keyof typeof constants.signals] ?? 0);
}
