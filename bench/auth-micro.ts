/**
 * `bun bench/auth-micro.ts`: the JavaScript side of edge authentication,
 * per request, in one process, no sockets — a profiling aid next to
 * bench/auth-profile.ts (which measures the whole gateway), not a test and
 * not a benchmark of record. Unlike the rest of bench/ it imports src/: it
 * times the gateway's own functions.
 *
 * Each row builds a fresh Request the way a client's would arrive (Host, and
 * for the authenticated rows the Authorization header) and runs part of the
 * per-request path on it: guardRequest (edge-auth.ts) with a proxy's
 * compiled policy, then the forwarding engine's pass over the headers
 * (visitUpstreamRequestHeaders). Differences between rows are what each step
 * costs. Best of several batches, in ns per request. Prints a table.
 */
import { generateKeyPair } from "jose";
import { EdgeTokenVerifier } from "../src/auth/edge/edge-tokens";
import { authenticateAtEdge } from "../src/auth/edge/authenticate";
import { signAccessToken } from "../src/auth/tokens/access-token";
import { RevokedTokens } from "../src/auth/tokens/revoked-tokens";
import type { SigningKeys } from "../src/auth/tokens/signing-keys";
import { PROXY_DEFAULTS } from "../src/api/schemas/proxy-target";
import { clientFacts, guardRequest, type EdgeAuthOptions } from "../src/dispatcher/edge-auth";
import { buildHostTable, type HostEntry } from "../src/dispatcher/host-table";
import { visitUpstreamRequestHeaders } from "../src/proxies/headers";
import type { ForwardContext } from "../src/proxies/forward-target";
import type { ProxyRecord } from "../src/storage/proxy-repository";
import { AUTH_ENV, AUTH_HOST, AUTH_USER } from "./auth";
import { PLAIN_HOST } from "./portcullis";

const ISSUER = `https://auth.${AUTH_ENV.BASE_DOMAIN}`;
const BARE_HOST = "bench-auth-bare.local";
const BATCH = 100_000;
const BATCHES = 7;

function record(hostname: string, auth: Partial<ProxyRecord>): ProxyRecord {
  const now = new Date().toISOString();
  return { ...PROXY_DEFAULTS, hostname, target_url: "http://127.0.0.1:9/", owner_token_hash: null, created_by: null, created_at: now, updated_at: now, ...auth } as ProxyRecord;
}

const authFields = (passHeaders: boolean, host: string): Partial<ProxyRecord> => ({
  auth_enabled: true,
  auth_mode: "forward",
  auth_proxy: `auth.${AUTH_ENV.BASE_DOMAIN}`,
  auth_allowed_audiences: [`https://${host}`],
  auth_pass_headers: passHeaders,
});

const table = buildHostTable({
  proxies: [record(PLAIN_HOST, {}), record(AUTH_HOST, authFields(true, AUTH_HOST)), record(BARE_HOST, authFields(false, BARE_HOST))],
  routes: [],
  serviceUrls: new Map(),
  edgeAuth: { issuer: ISSUER, allowedUsers: AUTH_ENV.OAUTH_ALLOWED_GITHUB_USERS!.split(",") },
});
const entry = (host: string): HostEntry => table.lookup(host) ?? (() => { throw new Error(`no host ${host}: ${table.problems.join("; ")}`); })();

// Real RS256 keys, held in memory instead of Redis: the verifier only asks for a kid's algorithm and public key.
const { privateKey, publicKey } = await generateKeyPair("RS256");
const kid = "bench";
const keys = {
  current: () => ({ kid, alg: "RS256", privateKey }),
  verificationKey: (k: string) => (k === kid ? { alg: "RS256", publicKey } : undefined),
  reloadForUnknownKid: async () => {},
} as unknown as SigningKeys;
const revoked = new RevokedTokens(null as never);
const verifier = new EdgeTokenVerifier(keys, revoked);
const mint = async (host: string) =>
  (
    await signAccessToken(
      keys,
      { iss: ISSUER, sub: `admin-${AUTH_USER}`, aud: [`https://${host}`], client_id: "portcullis-admin", azp: "portcullis-admin", scope: "mcp:read mcp:write", login: AUTH_USER },
      3_600,
    )
  ).token;
const token = await mint(AUTH_HOST);
const bareToken = await mint(BARE_HOST);
// First sightings (the signature check) happen here, not in the timed loops.
await verifier.verify(token);
await verifier.verify(bareToken);
const options: EdgeAuthOptions = { verifier, issuer: ISSUER };

const context = { clientIp: "127.0.0.1", proto: "http" as const, trustedPeer: false };
let sink = 0;
const emit = (name: string, value: string) => {
  sink += name.length + value.length;
};

function request(host: string, bearer?: string): Request {
  const headers: [string, string][] = [["host", host]];
  if (bearer) headers.push(["authorization", `Bearer ${bearer}`]);
  return new Request(`http://${host}/`, { headers });
}

/** What the dispatcher does for a proxy request, minus the socket work: the guard, then the engine's header pass. */
function dispatchLike(host: string, bearer: string | undefined, guard: boolean): void {
  const req = request(host, bearer);
  const e = entry(host);
  let ctx: ForwardContext = context;
  if (guard) {
    const outcome = guardRequest(options, e, undefined, req, clientFacts(req, "http", "/", false));
    if (outcome instanceof Promise || outcome instanceof Response) throw new Error(`${host}: not forwarded`);
    if (outcome.identity) ctx = { ...context, identity: outcome.identity };
  }
  visitUpstreamRequestHeaders(req.headers, e.target!, ctx, emit);
}

function time(run: () => void): number {
  for (let i = 0; i < BATCH; i++) run(); // warm-up: JIT tiers
  let bestNs = Infinity;
  for (let b = 0; b < BATCHES; b++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < BATCH; i++) run();
    bestNs = Math.min(bestNs, (Bun.nanoseconds() - start) / BATCH);
  }
  return bestNs;
}

const fixed = request(AUTH_HOST, token);
const facts = { proto: "http" as const, host: AUTH_HOST, path: "/", metadataUrl: null, asIssuer: ISSUER };
const policy = entry(AUTH_HOST).auth!;

/** Each row, timed in a process of its own: rows sharing one JIT skew each other (call sites turn polymorphic). */
const ROWS: readonly (readonly [name: string, run: () => void])[] = [
  ["(1) new Request (Host) + header pass, no guard", () => dispatchLike(PLAIN_HOST, undefined, false)],
  ["(2) (1) + guardRequest on a proxy without auth", () => dispatchLike(PLAIN_HOST, undefined, true)],
  ["(3) (1) with the Authorization header too, no guard", () => dispatchLike(PLAIN_HOST, token, false)],
  ["(4) auth, auth_pass_headers off: (3) + guardRequest", () => dispatchLike(BARE_HOST, bareToken, true)],
  ["(5) auth, identity headers (applied in the header pass): (3) + guardRequest", () => dispatchLike(AUTH_HOST, token, true)],
  ["verifier.verify(token from Headers.get), a cache hit", () => void verifier.verify(fixed.headers.get("authorization")!.slice(7))],
  ["authenticateAtEdge on one Request (no identity headers set)", () => void authenticateAtEdge(policy, verifier, fixed, facts)],
];
/** Processes per row; the best is kept. */
const PROCESSES = 3;

const rowFlag = process.argv.indexOf("--row");
if (rowFlag >= 0) {
  const ns = time(ROWS[Number(process.argv[rowFlag + 1])]![1]);
  console.log(`${ns}${sink < 0 ? " " : ""}`);
  process.exit(0);
}

const results: number[] = [];
for (let i = 0; i < ROWS.length; i++) {
  let bestNs = Infinity;
  for (let p = 0; p < PROCESSES; p++) {
    const child = Bun.spawnSync([process.execPath, import.meta.path, "--row", String(i)], { stderr: "inherit" });
    if (!child.success) throw new Error(`row ${i} failed`);
    bestNs = Math.min(bestNs, Number(child.stdout.toString().trim()));
  }
  results.push(bestNs);
}

console.log(`Bun ${Bun.version}; per row: best of ${PROCESSES} processes × ${BATCHES} batches of ${BATCH.toLocaleString("en-US")}; token ${token.length} characters\n`);
console.log("| step | ns per request |");
console.log("| --- | ---: |");
ROWS.forEach(([name], i) => console.log(`| ${name} | ${results[i]!.toFixed(0)} |`));
const at = (i: number) => results[i]!;
const diff = (a: number, b: number) => `${(at(a) - at(b)).toFixed(0)} ns`;
console.log(`\nguard on a proxy without auth (2 − 1): ${diff(1, 0)}`);
console.log(`a ${token.length}-character Authorization header on the request (3 − 1): ${diff(2, 0)}`);
console.log(`the checks, no identity headers (4 − 3): ${diff(3, 2)}`);
console.log(`identity headers passed on (5 − 4): ${diff(4, 3)}`);
