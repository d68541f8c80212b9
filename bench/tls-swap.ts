/**
 * `bun bench/tls-swap.ts [--changes N] [--connections N]`: the measurement
 * behind the HTTPS edge's certificate swap. 50 keep-alive connections send
 * requests back to back (bench/tls-load.ts, which never retries) while the
 * certificate changes 20 times, 100 ms apart, under three mechanisms:
 *
 *   reuse-port   a new Bun.serve({ reusePort: true }) on the same port, then old.stop(false)
 *   drain        the same, but the old server answers with Connection: close for 1 s before stop(false)
 *   front        native-tls's TlsListenerSet: a Bun.listen front relaying to internal TLS servers
 *
 * Server and load share this process (and its one JS thread), so compare the
 * rows with each other, not with wrk numbers.
 */
import { join } from "node:path";
import type { Server } from "bun";
import { TlsListenerSet, TlsServerSet, type TlsCertificates } from "../native-tls/tls-listener";
import { cleanup, installExitHandlers, makeTempDir, spawnChild } from "./processes";
import { startTlsLoad, type LoadCounts } from "./tls-load";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const CHANGES = option("changes", 20);
const CONNECTIONS = option("connections", 50);
const GAP_MS = 100;
const DRAIN_MS = 1_000;
const HOST = "swap.bench.test";

async function openssl(args: string[]): Promise<void> {
  const child = spawnChild(["openssl", ...args], { stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed: ${err}`);
}

/** A throwaway CA and `count` certificates for HOST (each change serves a different one). */
async function makeCertificates(count: number): Promise<{ ca: string; certificates: { cert: string; key: string }[] }> {
  const dir = makeTempDir("tls-swap");
  const file = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2", "-subj", "/CN=Bench CA"]);
  await Bun.write(file("san.ext"), `subjectAltName=DNS:${HOST}\n`);
  const certificates = [];
  for (let i = 0; i < count; i++) {
    await openssl(["req", ...ec, "-keyout", file(`${i}.key`), "-out", file(`${i}.csr`), "-subj", `/CN=${HOST}`]);
    await openssl(["x509", "-req", "-in", file(`${i}.csr`), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-out", file(`${i}.pem`), "-days", "2", "-extfile", file("san.ext")]);
    certificates.push({ cert: await Bun.file(file(`${i}.pem`)).text(), key: await Bun.file(file(`${i}.key`)).text() });
  }
  return { ca: await Bun.file(file("ca.pem")).text(), certificates };
}

interface Mechanism {
  readonly port: number;
  change(certificate: { cert: string; key: string }): void;
  stop(): Promise<void>;
}

const respond = () => new Response("hello");

function reusePort(first: { cert: string; key: string }, drainMs: number): Mechanism {
  const start = (certificate: { cert: string; key: string }, port: number) => {
    let draining = false;
    const server: Server<undefined> = Bun.serve({
      hostname: "127.0.0.1",
      port,
      reusePort: true,
      tls: { ...certificate, serverName: HOST },
      fetch: () => {
        const response = respond();
        if (draining) response.headers.set("connection", "close");
        return response;
      },
    });
    return {
      server,
      retire() {
        if (drainMs === 0) return void server.stop(false);
        draining = true;
        if (drainMs < 0) return void server.stop(false);
        setTimeout(() => void server.stop(false), drainMs);
      },
    };
  };
  let current = start(first, 0);
  const port = current.server.port!;
  return {
    port,
    change(certificate) {
      const previous = current;
      current = start(certificate, port);
      previous.retire();
    },
    async stop() {
      await Bun.sleep(Math.max(0, drainMs));
      await current.server.stop(true);
    },
  };
}

function serverSet(first: { cert: string; key: string }): Mechanism {
  const set = (certificate: { cert: string; key: string }): TlsCertificates => ({ fallback: certificate, byServerName: new Map([[HOST, certificate]]) });
  const servers = new TlsServerSet<undefined>({ hostname: "127.0.0.1", port: 0, http: { fetch: respond, websocket: { message() {} } } }, set(first));
  return {
    port: servers.port,
    change: (certificate) => servers.setCertificates(set(certificate)),
    stop: () => servers.stop(true),
  };
}

function front(first: { cert: string; key: string }): Mechanism {
  const set = (certificate: { cert: string; key: string }): TlsCertificates => ({ fallback: certificate, byServerName: new Map([[HOST, certificate]]) });
  const listener = new TlsListenerSet<undefined>({ hostname: "127.0.0.1", port: 0, http: { fetch: respond, websocket: { message() {} } } }, set(first));
  return {
    port: listener.port,
    change: (certificate) => listener.setCertificates(set(certificate)),
    stop: () => listener.stop(true),
  };
}

async function run(name: string, mechanism: Mechanism, certificates: { cert: string; key: string }[], ca: string): Promise<[string, LoadCounts, number]> {
  const load = startTlsLoad({ port: mechanism.port, host: HOST, ca, connections: CONNECTIONS });
  await Bun.sleep(500);
  const started = performance.now();
  const okBefore = load.counts.ok;
  for (let i = 1; i <= CHANGES; i++) {
    mechanism.change(certificates[i]!);
    await Bun.sleep(GAP_MS);
  }
  await Bun.sleep(300);
  const requestsPerSecond = ((load.counts.ok - okBefore) * 1000) / (performance.now() - started);
  const counts = await load.stop();
  await mechanism.stop();
  return [name, counts, requestsPerSecond];
}

async function main(): Promise<void> {
  installExitHandlers();
  const { ca, certificates } = await makeCertificates(CHANGES + 1);
  const results = [
    await run("reuse-port + stop(false)", reusePort(certificates[0]!, 0), certificates, ca),
    await run(`drain ${DRAIN_MS} ms, then stop(false)`, reusePort(certificates[0]!, DRAIN_MS), certificates, ca),
    await run("stop(false), then Connection: close", reusePort(certificates[0]!, -1), certificates, ca),
    await run("front (TlsListenerSet)", front(certificates[0]!), certificates, ca),
    await run("TlsServerSet", serverSet(certificates[0]!), certificates, ca),
  ];
  console.log(`\n${CONNECTIONS} keep-alive connections, ${CHANGES} certificate changes ${GAP_MS} ms apart; Bun ${Bun.version}\n`);
  console.log("| mechanism | failed requests | resets | closed under the client | closed with Connection: close | connect errors | connections opened | req/s during changes |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, c, rps] of results) {
    const cells = [c.failedRequests + c.badStatus, c.resets, c.serverCloses, c.politeCloses, c.connectErrors, c.opened, Math.round(rps)];
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
  for (const [name, c] of results) if (c.errors.length > 0) console.log(`${name}: ${c.errors.slice(0, 4).join("; ")}`);
}

try {
  await main();
} finally {
  await cleanup();
}
