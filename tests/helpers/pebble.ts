/**
 * A real ACME server for tests: Debian's `pebble` (2.4.0) with
 * `pebble-challtestsrv` as its DNS server, on free loopback ports, killed on
 * stop() (and, as a backstop, when the test process exits).
 *
 * - challtestsrv answers every A query with 127.0.0.1 and no AAAA, so pebble's
 *   HTTP-01 validation of any name connects to 127.0.0.1:`httpPort` (the
 *   gateway's HTTP port). Its other challenge servers are disabled.
 * - pebble serves the directory over HTTPS with a certificate from a throwaway
 *   CA made with openssl for this instance (SAN DNS:localhost, IP:127.0.0.1).
 *   `caFile` is that CA: give it to the gateway child as NODE_EXTRA_CA_CERTS
 *   (Bun reads it only at process start), or `fetch(url, { tls: { ca: caPem } })`.
 * - Issued chains are leaf + one intermediate; the issuing root is regenerated
 *   on every start: `issuingRootPem()` (management interface `/roots/0`).
 * - Environment: PEBBLE_VA_NOSLEEP=1 (no random 0-15 s sleep before each
 *   validation), PEBBLE_WFE_NONCEREJECT=0 (pebble otherwise rejects 5% of good
 *   nonces with badNonce), PEBBLE_AUTHZREUSE=0 (otherwise 50% of new orders
 *   reuse a valid authorization and skip the challenge). `-strict` stays off.
 *
 * A name pebble refuses (config key `domainBlocklist`; the name and all its
 * subdomains): newOrder answers HTTP 400 with
 *   {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
 *    "detail": "Order included an identifier for which issuance is forbidden by policy: \"refused.test\"",
 *    "status": 400}
 * `REFUSED_DOMAIN` is always blocked; `rejectDomains` adds more. Other errors
 * pebble produces on demand:
 * - a name with an illegal character (`bad_name.test`) → newOrder HTTP 400
 *   `urn:ietf:params:acme:error:malformed`, "Order included DNS identifier with
 *   a value containing an illegal character: '_'";
 * - a challenge the gateway does not answer → the challenge (and authorization)
 *   become `invalid` with error `urn:ietf:params:acme:error:unauthorized`,
 *   status 403, "Non-200 status code from HTTP:
 *   http://<name>:<httpPort>/.well-known/acme-challenge/<token> returned 404".
 * `.invalid` and other unknown TLDs are NOT refused: pebble issues for them.
 *
 * challtestsrv's management API (`challtestsrvUrl`) can change DNS answers,
 * e.g. POST /add-a {"host": "name.test.", "addresses": ["127.0.0.2"]} or
 * POST /set-default-ipv4 {"ip": "..."}.
 */
import type { Subprocess } from "bun";
import { join } from "node:path";
import { preChosenPort } from "./ports";
import { tempDir } from "./temp";

/** Always on pebble's blocklist: ordering it (or a subdomain) fails with rejectedIdentifier. */
export const REFUSED_DOMAIN = "refused.test";

export interface PebbleOptions {
  /**
   * The port pebble connects to for HTTP-01 validation (the gateway's HTTP
   * port). It goes into pebble's config before the gateway starts, so this is
   * the one gateway port a test chooses ahead (tests/helpers/ports.ts).
   */
  readonly httpPort: number;
  /** More names (with their subdomains) pebble refuses, besides REFUSED_DOMAIN. */
  readonly rejectDomains?: readonly string[];
  /** Lifetime of issued certificates (pebble's default is 5 years), e.g. to test renewal. */
  readonly certificateValiditySeconds?: number;
  /** Extra pebble environment, e.g. { PEBBLE_CHAIN_LENGTH: "2" } or { PEBBLE_VA_ALWAYS_VALID: "1" }. */
  readonly env?: Record<string, string>;
}

export interface Pebble {
  /** `https://127.0.0.1:<port>/dir` */
  readonly directoryUrl: string;
  /** PEM file of the CA that signs pebble's HTTPS listeners (for NODE_EXTRA_CA_CERTS). */
  readonly caFile: string;
  /** The same CA as text (for fetch's `tls: { ca }`). */
  readonly caPem: string;
  /** `https://127.0.0.1:<port>`: pebble's management interface (roots, intermediates, cert-status-by-serial). */
  readonly managementUrl: string;
  /** `http://127.0.0.1:<port>`: challtestsrv's management API (mock DNS records). */
  readonly challtestsrvUrl: string;
  /** Every name pebble refuses (REFUSED_DOMAIN first). */
  readonly refusedDomains: readonly string[];
  /** The root that (through the intermediate) signs every certificate this pebble issues. */
  issuingRootPem(): Promise<string>;
  /** The intermediate that signs leaves (also the second certificate of each issued chain). */
  intermediatePem(): Promise<string>;
  /** What pebble and challtestsrv printed so far. */
  output(): string;
  stop(): Promise<void>;
}

// Backstop for a test run that ends without stop(): no pebble outlives the process.
const live = new Set<Subprocess>();
let exitHookInstalled = false;
function track(child: Subprocess): void {
  live.add(child);
  void child.exited.then(() => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
}

interface Child {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
}

function spawnChild(cmd: string[], env: Record<string, string>, cwd: string): Child {
  const proc = Bun.spawn(cmd, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  track(proc);
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  return { proc, output: () => text };
}

function spawnOrExplain(cmd: string[], env: Record<string, string>, cwd: string): Child {
  try {
    return spawnChild(cmd, env, cwd);
  } catch (error) {
    throw new Error(`cannot run ${cmd[0]} (Debian package pebble; ./scripts/test installs it): ${error instanceof Error ? error.message : error}`);
  }
}

async function run(cmd: string[], cwd: string): Promise<void> {
  const child = Bun.spawn(cmd, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited with ${code}:\n${out}${err}`);
}

/** A throwaway CA and a localhost/127.0.0.1 server certificate from it, for pebble's listeners. */
async function listenerCertificates(dir: string) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "7"];
  await run(
    ["openssl", "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=Portcullis test pebble listener CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
    dir,
  );
  await run(
    ["openssl", "req", "-x509", ...ec, "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=localhost", "-CA", "ca.pem", "-CAkey", "ca.key",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"],
    dir,
  );
  return { caFile: join(dir, "ca.pem"), certFile: join(dir, "cert.pem"), keyFile: join(dir, "key.pem") };
}

async function answers(url: string, ca?: string): Promise<boolean> {
  try {
    const res = await fetch(url, { tls: ca ? { ca } : undefined, signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return ca ? res.ok : true; // challtestsrv's management answers 404 on "/": up is enough
  } catch {
    return false;
  }
}

const BIND_FAILURE = /address already in use|bind:/i;

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = tempDir("pebble");
  const { caFile, certFile, keyFile } = await listenerCertificates(dir);
  const caPem = await Bun.file(caFile).text();
  const refusedDomains = [REFUSED_DOMAIN, ...(options.rejectDomains ?? [])];
  const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir };
  let failures = "";

  for (let attempt = 1; attempt <= 3; attempt++) {
    // pebble and challtestsrv take their ports from their command line and config: chosen here, retried on a bind failure.
    const [acmePort, managementPort, tlsPort, dnsPort, challtestsrvPort] = [preChosenPort(), preChosenPort(), preChosenPort(), preChosenPort(), preChosenPort()];
    if (new Set([acmePort, managementPort, tlsPort, dnsPort, challtestsrvPort, options.httpPort]).size !== 6) continue;
    const configFile = join(dir, `pebble-config-${attempt}.json`);
    const pebbleConfig: Record<string, unknown> = {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: certFile,
      privateKey: keyFile,
      httpPort: options.httpPort,
      tlsPort, // TLS-ALPN-01 validation target: nothing listens there
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      domainBlocklist: refusedDomains,
    };
    if (options.certificateValiditySeconds !== undefined) pebbleConfig.certificateValidityPeriod = options.certificateValiditySeconds;
    await Bun.write(configFile, JSON.stringify({ pebble: pebbleConfig }, null, 2));

    const challtestsrv = spawnOrExplain(
      ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", `127.0.0.1:${dnsPort}`,
        "-http01", "", "-tlsalpn01", "", "-https01", "", "-management", `127.0.0.1:${challtestsrvPort}`],
      baseEnv,
      dir,
    );
    let pebble: Child;
    try {
      pebble = spawnOrExplain(
        ["pebble", "-config", configFile, "-dnsserver", `127.0.0.1:${dnsPort}`],
        { ...baseEnv, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0", ...options.env },
        dir,
      );
    } catch (error) {
      challtestsrv.proc.kill("SIGKILL");
      await challtestsrv.proc.exited;
      throw error;
    }
    const output = () => `--- pebble:\n${pebble.output()}\n--- pebble-challtestsrv:\n${challtestsrv.output()}`;
    const kill = async () => {
      for (const c of [pebble, challtestsrv]) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
      await Promise.all([pebble.proc.exited, challtestsrv.proc.exited]);
    };

    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    const managementUrl = `https://127.0.0.1:${managementPort}`;
    const challtestsrvUrl = `http://127.0.0.1:${challtestsrvPort}`;
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (Date.now() < deadline) {
      if (pebble.proc.exitCode !== null || challtestsrv.proc.exitCode !== null) break;
      const [dirOk, mgmtOk, ctsOk] = await Promise.all([answers(directoryUrl, caPem), answers(`${managementUrl}/roots/0`, caPem), answers(challtestsrvUrl)]);
      if (dirOk && mgmtOk && ctsOk) {
        ready = true;
        break;
      }
      await Bun.sleep(20);
    }
    if (ready) {
      const get = async (path: string) => {
        const res = await fetch(`${managementUrl}${path}`, { tls: { ca: caPem } });
        const text = await res.text();
        if (!res.ok) throw new Error(`pebble management ${path}: HTTP ${res.status}: ${text}`);
        return text;
      };
      return {
        directoryUrl,
        caFile,
        caPem,
        managementUrl,
        challtestsrvUrl,
        refusedDomains,
        issuingRootPem: () => get("/roots/0"),
        intermediatePem: () => get("/intermediates/0"),
        output,
        stop: kill,
      };
    }
    const state = (c: Child) => (c.proc.exitCode !== null ? `exited with ${c.proc.exitCode}` : "still running");
    const states = `pebble ${state(pebble)}, pebble-challtestsrv ${state(challtestsrv)}`;
    await kill();
    const text = output();
    if (!BIND_FAILURE.test(text)) throw new Error(`pebble did not start (${states}; the wait is 10 s):\n${text}`);
    failures += `attempt ${attempt}:\n${text}\n`;
  }
  throw new Error(`pebble could not bind its ports:\n${failures}`);
}

/**
 * The settings a gateway process needs to get certificates from this pebble:
 * its HTTP port is the one pebble validates on, pebble's CA is trusted, and
 * the challenge self-check is off (it resolves names through the system's DNS,
 * which knows nothing of the test names). The test names are `.test` ones:
 * this pebble stands for a private CA that issues internal names. `extra`
 * adds to or overrides any of them.
 */
export function pebbleGatewayEnv(pebble: Pebble, base: { httpPort: number; redisUrl: string; adminToken: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HTTP_PORT: String(base.httpPort),
    REDIS_URL: base.redisUrl,
    ADMIN_TOKEN: base.adminToken,
    ADMIN_EMAIL: "admin@example.test",
    NODE_EXTRA_CA_CERTS: pebble.caFile,
    ACME_DIRECTORY_URL: pebble.directoryUrl,
    ACME_INTERNAL_NAMES: "true",
    ACME_CHALLENGE_SELF_CHECK: "false",
    ACME_POLL_INTERVAL_SECONDS: "0.1",
    LOG_LEVEL: "INFO",
    ...extra,
  };
}
