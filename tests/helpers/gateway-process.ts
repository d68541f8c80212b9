/**
 * Runs the real `portcullis` executable as a child process: the compiled binary
 * (built once per test run) or the sources, with a private data dir. It binds
 * port 0 (any free port) unless told otherwise, and the ports it got are read
 * from its "portcullis is serving" log record.
 */
import { existsSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { tempDir } from "./temp";

export const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist/portcullis");

let build: Promise<void> | undefined;

/**
 * Builds dist/portcullis from the current sources, once per test process.
 * `bun test` runs side by side each build their own copy (package.json's build
 * script with another --outfile) and rename it into place, so no run executes
 * a binary another is still writing (ETXTBSY, or a half-written file).
 */
export function ensureBinary(): Promise<void> {
  build ??= (async () => {
    const script: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.build;
    const building = join(ROOT, `dist/.portcullis-${process.pid}-${Date.now()}`);
    const command = script.split(/\s+/).map((word) => (word === "dist/portcullis" ? building : word));
    const child = Bun.spawn(command, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    if (code !== 0) throw new Error(`${command.join(" ")} failed: ${err}`);
    if (existsSync(`${building}.map`)) renameSync(`${building}.map`, `${BINARY}.map`);
    renameSync(building, BINARY);
  })();
  return build;
}

export const tempDataDir = () => tempDir("data");

/** The bound ports, as the gateway logs them once all its listeners are up. */
export interface ServingPorts {
  readonly apiPort: number;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** 0 when PROXY_PROTOCOL_PORT is off. */
  readonly proxyProtocolPort: number;
}

export interface RunningGateway {
  readonly child: Subprocess<"ignore", "pipe", "pipe">;
  /** These throw until the gateway has logged that it is serving (waitForServing / waitForHealthy). */
  readonly apiUrl: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly proxyProtocolPort: number;
  readonly env: Record<string, string>;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Waits for the "portcullis is serving" record and returns the ports in it. */
  waitForServing(timeoutMs?: number): Promise<ServingPorts>;
  waitForHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<number>;
}

const SERVING = /^\{.*"msg":"portcullis is serving".*\}$/m;

/** The ports in a "portcullis is serving" record, if `text` holds one. */
export function servingPorts(text: string): ServingPorts | undefined {
  const line = SERVING.exec(text)?.[0];
  if (!line) return undefined;
  const record = JSON.parse(line);
  return { apiPort: record.api_port, httpPort: record.http_port, httpsPort: record.https_port, proxyProtocolPort: record.proxy_protocol_port };
}

/** `binary`: another copy of the executable (e.g. one a test replaces while it runs); dist/portcullis by default. */
export async function startGatewayProcess(options: { dataDir: string; env?: Record<string, string>; binary?: string }): Promise<RunningGateway> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    HTTP_PORT: "0",
    HTTPS_PORT: "0",
    API_PORT: "0",
    // Not the default 10001: test gateways run side by side. (0 would turn it off.)
    PROXY_PROTOCOL_PORT: "any",
    SERVER_HOST: "127.0.0.1",
    PORTCULLIS_DATA_DIR: options.dataDir,
    LOG_LEVEL: "DEBUG",
    // New proxies would otherwise ask a public CA for certificates; ACME tests turn it on.
    AUTO_CERTIFICATES: "false",
    // One process, no supervisor, unless a test asks for workers (tests/e2e/workers*.test.ts).
    PORTCULLIS_WORKERS: "0",
    ...options.env,
  };
  const child = Bun.spawn([options.binary ?? BINARY, "serve"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  void pump(child.stdout);
  void pump(child.stderr);
  const ports = () => {
    const found = servingPorts(text);
    if (!found) throw new Error(`the gateway has not logged its ports yet (await waitForServing() or waitForHealthy() first):\n${text}`);
    return found;
  };

  const waitForOutput = async (pattern: RegExp, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(text);
      if (match) return match[0];
      if (child.exitCode !== null) break;
      await Bun.sleep(20);
    }
    throw new Error(`gateway output never matched ${pattern} (exit ${child.exitCode}):\n${text}`);
  };

  const waitForServing = async (timeoutMs = 15_000) => {
    await waitForOutput(SERVING, timeoutMs);
    return ports();
  };

  const waitForHealthy = async (timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    const { apiPort } = await waitForServing(timeoutMs);
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${text}`);
      const ok = await fetch(`http://127.0.0.1:${apiPort}/health`).then((r) => r.status === 200, () => false);
      if (ok) return;
      await Bun.sleep(25);
    }
    throw new Error(`gateway never became healthy:\n${text}`);
  };

  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    return child.exited;
  };

  return {
    child,
    get apiUrl() {
      return `http://127.0.0.1:${ports().apiPort}`;
    },
    get httpPort() {
      return ports().httpPort;
    },
    get httpsPort() {
      return ports().httpsPort;
    },
    get proxyProtocolPort() {
      return ports().proxyProtocolPort;
    },
    env,
    output: () => text,
    waitForOutput,
    waitForServing,
    waitForHealthy,
    stop,
  };
}

/** Runs a CLI command of the compiled binary and returns what it printed. */
export async function runCli(args: string[], env: Record<string, string>) {
  const child = Bun.spawn([BINARY, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.HOME ?? tmpdir(), ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, stdout, stderr };
}
