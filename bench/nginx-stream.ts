/**
 * nginx's stream module as a stand-in load balancer for the PROXY protocol
 * scenarios: wrk cannot send a PROXY header, nginx can (`proxy_protocol on`).
 * Both paths being compared go through the same nginx, one server block with
 * the header and one without, so nginx's own cost is on both sides.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort, makeTempDir, OutputTail, spawnChild, stopChild } from "./processes";
import { waitForHttp } from "./ready";

/** Debian's libnginx-mod-stream. */
export const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

export interface StreamRoute {
  readonly upstreamPort: number;
  /** Send a PROXY protocol v1 header first (`proxy_protocol on`). */
  readonly proxyProtocol: boolean;
}

export interface RunningNginxStream {
  /** One listening port per route, in order. */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

export function nginxStreamConfig(options: { dir: string; listen: readonly number[]; routes: readonly StreamRoute[]; runAsRoot: boolean }): string {
  const { dir } = options;
  const user = options.runAsRoot ? "user root;\n" : "";
  const servers = options.routes
    .map((route, i) => {
      const header = route.proxyProtocol ? " proxy_protocol on;" : "";
      return `    server { listen 127.0.0.1:${options.listen[i]}; proxy_pass 127.0.0.1:${route.upstreamPort};${header} }`;
    })
    .join("\n");
  return `load_module ${STREAM_MODULE};
${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;

events {
    worker_connections 4096;
}

stream {
${servers}
}
`;
}

/** Starts nginx with one stream server per route; `check` (host, path) is requested through each before returning. */
export async function startNginxStream(routes: readonly StreamRoute[], check: { host: string; path: string }): Promise<RunningNginxStream> {
  if (!existsSync(STREAM_MODULE)) throw new Error(`nginx stream module missing (${STREAM_MODULE}): apt-get install -y libnginx-mod-stream`);
  const dir = makeTempDir("nginx-stream");
  const listen = routes.map(() => freePort());
  const configPath = join(dir, "nginx.conf");
  await Bun.write(configPath, nginxStreamConfig({ dir, listen, routes, runAsRoot: process.getuid?.() === 0 }));
  const child = spawnChild(["nginx", "-p", dir, "-e", join(dir, "error.log"), "-c", configPath, "-g", "daemon off;"], { stdout: "pipe", stderr: "pipe" });
  const output = new OutputTail([child.stdout, child.stderr]);
  try {
    for (const port of listen) await waitForHttp(`http://127.0.0.1:${port}${check.path}`, child, 10_000, { Host: check.host });
  } catch (err) {
    const log = await Bun.file(join(dir, "error.log")).text().catch(() => "");
    await stopChild(child);
    throw new Error(`nginx (stream) did not start: ${(err as Error).message}\n${output.value}${log}`);
  }
  return { ports: listen, stop: () => stopChild(child) };
}
