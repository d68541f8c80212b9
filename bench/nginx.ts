/**
 * nginx as the reference proxy: one worker, upstream keep-alive, no access log,
 * started from a generated config in a temp prefix so it needs no root and
 * touches nothing under /etc or /var.
 */
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, makeTempDir, OutputTail, spawnChild, stopChild } from "./processes";
import { waitForHttp } from "./ready";

export interface RunningNginx {
  readonly port: number;
  /** The same proxy, also sending the forwarding headers Portcullis sends (X-Forwarded-*, X-Real-IP). */
  readonly forwardingPort: number;
  readonly configText: string;
  stop(): Promise<void>;
}

export function nginxConfig(options: { dir: string; port: number; backendPort: number; runAsRoot: boolean; forwardingPort?: number }): string {
  const { dir, port, backendPort, forwardingPort } = options;
  // As root, nginx would drop its worker to "nobody", which cannot enter the
  // 0700 temp prefix: keep the worker as the current user instead.
  const user = options.runAsRoot ? "user root;\n" : "";
  return `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;

events {
    # wrk -c and the concurrent WebSocket run each need a client and an upstream connection.
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;

    upstream backend {
        server 127.0.0.1:${backendPort};
        keepalive 64;
    }

    server {
        listen 127.0.0.1:${port};
${proxyLocation(false)}
        location /ws {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 300s;
        }
    }
${forwardingPort === undefined ? "" : forwardingServer(forwardingPort)}}
`;
}

/**
 * What a production nginx in front of an application is configured to send,
 * and what Portcullis always sends: the client's address and how it connected.
 */
const FORWARDING_HEADERS = `
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;`;

/**
 * `location /` to the keep-alive upstream; with `forwarding`, also the
 * forwarding headers: the same work per request as Portcullis (a), for a
 * like-for-like ratio.
 */
export function proxyLocation(forwarding: boolean): string {
  return `
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            # Without this nginx sends "Connection: close" and the upstream keep-alive pool is unused.
            proxy_set_header Connection "";${forwarding ? FORWARDING_HEADERS : ""}
        }
`;
}

function forwardingServer(port: number): string {
  return `
    server {
        listen 127.0.0.1:${port};
${proxyLocation(true)}    }
`;
}

export async function startNginx(backendPort: number): Promise<RunningNginx> {
  const dir = makeTempDir("nginx");
  const port = freePort();
  const forwardingPort = freePort();
  const configText = nginxConfig({ dir, port, backendPort, forwardingPort, runAsRoot: process.getuid?.() === 0 });
  const configPath = join(dir, "nginx.conf");
  await Bun.write(configPath, configText);
  // -e: the error log nginx writes to before it has read the config (default /var/log/nginx).
  const child: Subprocess<"ignore", "pipe", "pipe"> = spawnChild(
    ["nginx", "-p", dir, "-e", join(dir, "error.log"), "-c", configPath, "-g", "daemon off;"],
    { stdout: "pipe", stderr: "pipe" },
  );
  const output = new OutputTail([child.stdout, child.stderr]);
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, child, 10_000);
  } catch (err) {
    const log = await Bun.file(join(dir, "error.log")).text().catch(() => "");
    await stopChild(child);
    throw new Error(`nginx did not start: ${(err as Error).message}\n${output.value}${log}`);
  }
  return { port, forwardingPort, configText, stop: () => stopChild(child) };
}
