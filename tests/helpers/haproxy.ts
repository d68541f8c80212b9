/**
 * A real HAProxy (Debian `haproxy`) in TCP mode in front of gateway nodes, as
 * docs/operations.md "Cluster" recommends: round robin, an HTTP health check
 * of each node's /healthz on its API port, and a refused connect sent on to
 * another node (`option redispatch`). Runs in the foreground (-db) on a port
 * chosen here; stopped with the test.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { preChosenPort } from "./ports";
import { tempDir } from "./temp";

export const haproxyBinary = Bun.which("haproxy") ?? Bun.which("haproxy", { PATH: "/usr/sbin:/usr/local/sbin" });

export interface HaproxyServer {
  readonly name: string;
  /** Where connections go (the node's HTTP_PORT). */
  readonly port: number;
  /** Where the health check asks GET /healthz (the node's API_PORT). */
  readonly checkPort: number;
}

export interface RunningHaproxy {
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

/** The configuration: also what docs/operations.md shows, with the test's short check interval. */
export function haproxyConfig(port: number, servers: readonly HaproxyServer[], checkIntervalMs = 250): string {
  return [
    "global",
    "    maxconn 4096",
    "defaults",
    "    mode tcp",
    "    timeout connect 2s",
    "    timeout client 60s",
    "    timeout server 60s",
    "    retries 3",
    "    option redispatch",
    "frontend portcullis_http",
    `    bind 127.0.0.1:${port}`,
    "    default_backend portcullis_nodes",
    "backend portcullis_nodes",
    "    balance roundrobin",
    "    option httpchk",
    "    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost",
    "    http-check expect status 200",
    `    default-server inter ${checkIntervalMs}ms fall 2 rise 2`,
    ...servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port} check port ${s.checkPort}`),
    "",
  ].join("\n");
}

export async function startHaproxy(servers: readonly HaproxyServer[]): Promise<RunningHaproxy> {
  const dir = tempDir("haproxy");
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = preChosenPort();
    const file = join(dir, "haproxy.cfg");
    writeFileSync(file, haproxyConfig(port, servers));
    const child = Bun.spawn([haproxyBinary!, "-db", "-f", file], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    let text = "";
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    };
    void pump(child.stdout);
    void pump(child.stderr);
    const stop = async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await child.exited;
    };
    // Listening once a connection is accepted; an exit means the port was taken (or the config refused).
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
        (socket) => (socket.end(), true),
        () => false,
      );
      if (open) return { port, output: () => text, stop };
      await Bun.sleep(50);
    }
    await stop();
    if (!/cannot bind|Address already in use/i.test(text)) throw new Error(`haproxy did not start:\n${text}`);
  }
  throw new Error("could not start haproxy on a free port");
}
