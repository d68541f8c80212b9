/**
 * `bun bench/https.ts [--duration S] [--connections N] [--rounds N]`: HTTPS through
 * Portcullis vs nginx with the same certificate and key, in one run:
 * keep-alive requests per second, and new TLS handshakes per second
 * (`Connection: close`, one request per connection). Plain HTTP through
 * Portcullis is measured alongside as the no-TLS reference.
 *
 * The certificate is Portcullis's own self-signed fallback (ECDSA P-256),
 * read from its Redis and handed to nginx, so both do the same crypto.
 * Prints a table; writes nothing.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startBackend } from "./backend-process";
import { machineInfo } from "./machine";
import { nginxConfig, proxyLocation } from "./nginx";
import { ensureBinary, PLAIN_HOST, ROOT, startPortcullis } from "./portcullis";
import { cleanup, freePort, installExitHandlers, makeTempDir, spawnChild, stopChild } from "./processes";
import { waitForHttp } from "./ready";
import { runWrk, wrkArgs, type WrkOptions, type WrkResult } from "./wrk";

interface Row {
  readonly name: string;
  readonly command: string;
  readonly result?: WrkResult;
  readonly error?: string;
}

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const DURATION = option("duration", 10);
const CONNECTIONS = option("connections", 50);
const ROUNDS = option("rounds", 1);

const NGINX_KEEP_ALIVE = "nginx HTTPS keep-alive";
const NGINX_FORWARDING_KEEP_ALIVE = "nginx + forwarding headers HTTPS keep-alive";
const KEEP_ALIVE = "portcullis HTTPS keep-alive";
const NGINX_HANDSHAKES = "nginx new TLS handshake per request";
const HANDSHAKES = "portcullis new TLS handshake per request";

/** `name` ÷ `reference` in each round, e.g. "1.01×, 0.97×". */
function ratios(rounds: readonly (readonly Row[])[], name: string, reference: string): string {
  return rounds
    .map((rows) => {
      const value = rows.find((r) => r.name === name)?.result?.requestsPerSecond;
      const base = rows.find((r) => r.name === reference)?.result?.requestsPerSecond;
      return value && base ? `${(value / base).toFixed(2)}×` : "–";
    })
    .join(", ");
}

async function startRedis(): Promise<{ url: string; client: Redis }> {
  const port = freePort();
  const password = randomBytes(16).toString("hex");
  const dir = makeTempDir("redis");
  const child = spawnChild(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", password], {
    stdout: "ignore",
    stderr: "ignore",
  });
  const client = new Redis({ port, host: "127.0.0.1", password, lazyConnect: true, retryStrategy: () => null });
  client.on("error", () => {});
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    try {
      await client.connect();
      return { url: `redis://:${password}@127.0.0.1:${port}/0`, client };
    } catch {
      await Bun.sleep(25);
    }
  }
  throw new Error("redis-server did not start");
}

async function startGateway(redisUrl: string, backendPort: number) {
  const gateway = await startPortcullis({ REDIS_URL: redisUrl, PROXY_PROTOCOL_PORT: "0", SELF_SIGNED_CN: PLAIN_HOST });
  await gateway.create("/api/v1/proxy/targets/", { hostname: PLAIN_HOST, target_url: `http://127.0.0.1:${backendPort}` });
  return gateway;
}

const CIPHERS =
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/** nginx's usual proxy config plus a TLS server on the same upstream, with Portcullis's certificate. */
async function startNginxTls(backendPort: number, certPem: string, keyPem: string) {
  const dir = makeTempDir("nginx-tls");
  const [port, tlsPort, forwardingTlsPort] = [freePort(), freePort(), freePort()];
  await Bun.write(join(dir, "cert.pem"), certPem);
  await Bun.write(join(dir, "key.pem"), keyPem);
  const base = nginxConfig({ dir, port, backendPort, runAsRoot: process.getuid?.() === 0 });
  const tlsServer = (listen: number, forwarding: boolean) => `
    server {
        listen 127.0.0.1:${listen} ssl;
        ssl_certificate ${dir}/cert.pem;
        ssl_certificate_key ${dir}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ${CIPHERS};
${proxyLocation(forwarding)}    }
`;
  // The plain server as `just bench` has it, and the same with the forwarding headers Portcullis always sends.
  const config = base.replace(/\}\s*$/, `${tlsServer(tlsPort, false)}${tlsServer(forwardingTlsPort, true)}}\n`);
  const configPath = join(dir, "nginx.conf");
  await Bun.write(configPath, config);
  const child = spawnChild(["nginx", "-p", dir, "-e", join(dir, "error.log"), "-c", configPath, "-g", "daemon off;"], { stdout: "pipe", stderr: "pipe" });
  await waitForHttp(`http://127.0.0.1:${port}/`, child, 10_000);
  return { tlsPort, forwardingTlsPort, stop: () => stopChild(child) };
}

async function measure(name: string, wrk: WrkOptions): Promise<Row> {
  const command = wrkArgs(wrk).join(" ");
  try {
    await runWrk({ ...wrk, seconds: Math.min(2, wrk.seconds) }); // warm-up
    console.log(`  ${name}: ${command}`);
    const result = await runWrk(wrk);
    console.log(`    ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.latencyMs.p99} ms`);
    return { name, command, result };
  } catch (err) {
    console.error(`  ${name}: failed: ${(err as Error).message}`);
    return { name, command, error: (err as Error).message.split("\n")[0] };
  }
}

async function main(): Promise<void> {
  installExitHandlers();
  for (const tool of ["wrk", "nginx", "redis-server"]) if (!Bun.which(tool)) throw new Error(`missing ${tool}: apt-get install -y ${tool}`);
  const stale = await ensureBinary();
  if (stale) console.log(`note: ${stale}`);
  const machine = await machineInfo(ROOT);
  const backend = await startBackend();
  const redis = await startRedis();
  const gateway = await startGateway(redis.url, backend.port);
  const fallback = JSON.parse((await redis.client.get(`cert:self-signed:${PLAIN_HOST}`)) ?? "null");
  if (!fallback) throw new Error("Portcullis stored no self-signed certificate");
  const nginx = await startNginxTls(backend.port, fallback.fullchain_pem, fallback.private_key_pem);

  const wrk = (port: number, scheme: string, headers: string[] = []): WrkOptions => ({
    url: `${scheme}://127.0.0.1:${port}/`,
    seconds: DURATION,
    connections: CONNECTIONS,
    threads: 1,
    headers: [`Host: ${PLAIN_HOST}`, ...headers],
  });
  const close = ["Connection: close"];
  const scenarios: [string, WrkOptions][] = [
    [NGINX_KEEP_ALIVE, wrk(nginx.tlsPort, "https")],
    [NGINX_FORWARDING_KEEP_ALIVE, wrk(nginx.forwardingTlsPort, "https")],
    [KEEP_ALIVE, wrk(gateway.httpsPort, "https")],
    ["portcullis HTTP keep-alive (no TLS)", wrk(gateway.httpPort, "http")],
    [NGINX_HANDSHAKES, wrk(nginx.tlsPort, "https", close)],
    [HANDSHAKES, wrk(gateway.httpsPort, "https", close)],
  ];
  const rounds: Row[][] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (ROUNDS > 1) console.log(`round ${round + 1}/${ROUNDS}`);
    const rows: Row[] = [];
    for (const [name, options] of scenarios) rows.push(await measure(name, options));
    rounds.push(rows);
  }

  console.log(`\n${machine.cpuModel}, ${machine.nproc} cores; Bun ${machine.bun}; nginx ${machine.nginx}; load ${machine.loadAverage}; revision ${machine.revision}`);
  console.log(`wrk -t1 -c${CONNECTIONS}, ${DURATION} s each (after a 2 s warm-up), the same ECDSA P-256 certificate on both\n`);
  console.log(`| scenario | req/s | p50 ms | p99 ms | socket errors |${ROUNDS > 1 ? " round |" : ""}`);
  console.log(`| --- | ---: | ---: | ---: | --- |${ROUNDS > 1 ? " ---: |" : ""}`);
  rounds.forEach((rows, round) => {
    for (const row of rows) {
      const roundCell = ROUNDS > 1 ? ` ${round + 1} |` : "";
      if (!row.result) {
        console.log(`| ${row.name} | failed: ${row.error} | | | |${roundCell}`);
        continue;
      }
      const r = row.result;
      const errors = Object.entries(r.socketErrors).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") || "0";
      const bad = r.non2xx3xx > 0 ? ` (${r.non2xx3xx} non-2xx!)` : "";
      console.log(`| ${row.name} | ${Math.round(r.requestsPerSecond)}${bad} | ${r.latencyMs.p50.toFixed(2)} | ${r.latencyMs.p99.toFixed(2)} | ${errors} |${roundCell}`);
    }
  });
  console.log("");
  console.log(`HTTPS keep-alive ÷ nginx, per round: ${ratios(rounds, KEEP_ALIVE, NGINX_KEEP_ALIVE)}`);
  console.log(`HTTPS keep-alive ÷ nginx + forwarding headers, per round: ${ratios(rounds, KEEP_ALIVE, NGINX_FORWARDING_KEEP_ALIVE)}`);
  console.log(`new TLS handshakes ÷ nginx, per round: ${ratios(rounds, HANDSHAKES, NGINX_HANDSHAKES)}`);
  console.log("\n(with Connection: close, wrk counts each server-side close as a read error)");
  redis.client.disconnect();
  await Promise.all([nginx.stop(), gateway.stop(), backend.stop()]);
}

try {
  await main();
} finally {
  await cleanup();
}
