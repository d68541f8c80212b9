/**
 * Runs the real `portcullis` executable as a child process: the compiled binary
 * (built once per test run) or the sources, with a private data dir and ports.
 */
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./ports";
import { tempDir } from "./temp";

export const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist/portcullis");

let build: Promise<void> | undefined;

/** Builds dist/portcullis from the current sources, once per test process. */
export function ensureBinary(): Promise<void> {
  build ??= (async () => {
    const child = Bun.spawn(["bun", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    if (code !== 0) throw new Error(`bun run build failed: ${err}`);
  })();
  return build;
}

export const tempDataDir = () => tempDir("data");

export interface RunningGateway {
  readonly child: Subprocess<"ignore", "pipe", "pipe">;
  readonly apiUrl: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly env: Record<string, string>;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  waitForHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<number>;
}

export async function startGatewayProcess(options: { dataDir: string; env?: Record<string, string> }): Promise<RunningGateway> {
  const apiPort = await freePort();
  const httpPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    HTTP_PORT: String(httpPort),
    HTTPS_PORT: String(await freePort()),
    API_PORT: String(apiPort),
    // Not the default 10001: test gateways run side by side.
    PROXY_PROTOCOL_PORT: String(await freePort()),
    SERVER_HOST: "127.0.0.1",
    PORTCULLIS_DATA_DIR: options.dataDir,
    LOG_LEVEL: "DEBUG",
    // New proxies would otherwise ask a public CA for certificates; ACME tests turn it on.
    AUTO_CERTIFICATES: "false",
    ...options.env,
  };
  const child = Bun.spawn([BINARY, "serve"], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  void pump(child.stdout);
  void pump(child.stderr);
  const apiUrl = `http://127.0.0.1:${env.API_PORT}`;

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

  const waitForHealthy = async (timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}:\n${text}`);
      const ok = await fetch(`${apiUrl}/health`).then((r) => r.status === 200, () => false);
      if (ok) return;
      await Bun.sleep(25);
    }
    throw new Error(`gateway never became healthy:\n${text}`);
  };

  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    return child.exited;
  };

  return { child, apiUrl, httpPort: Number(env.HTTP_PORT), httpsPort: Number(env.HTTPS_PORT), env, output: () => text, waitForOutput, waitForHealthy, stop };
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
