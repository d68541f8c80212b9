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
import { authenticateAtEdge } from "../src/auth/edge/authenticate";
import { clientFacts, guardRequest, type EdgeAuthOptions } from "../src/dispatcher/edge-auth";
import { buildHostTable, type HostEntry } from "../src/dispatcher/host-table";
import { visitUpstreamRequestHeaders } from "../src/proxies/headers";
import type { ForwardContext } from "../src/proxies/forward-target";
import type { ProxyRecord } from "../src/storage/proxy-repository";
import { AUTH_ENV, AUTH_HOST } from "./auth";
import { inMemoryTokens, ISSUER, printRows, proxyRecord as record, timeRows, type MicroRow } from "./micro";
import { PLAIN_HOST } from "./portcullis";

const BARE_HOST = "bench-auth-bare.local";

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

const { verifier, mint } = await inMemoryTokens();
const token = await mint(AUTH_HOST);
const bareToken = await mint(BARE_HOST);
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

const fixed = request(AUTH_HOST, token);
const facts = { proto: "http" as const, host: AUTH_HOST, path: "/", metadataUrl: null, asIssuer: ISSUER };
const policy = entry(AUTH_HOST).auth!;

const ROWS: readonly MicroRow[] = [
  ["(1) new Request (Host) + header pass, no guard", () => dispatchLike(PLAIN_HOST, undefined, false)],
  ["(2) (1) + guardRequest on a proxy without auth", () => dispatchLike(PLAIN_HOST, undefined, true)],
  ["(3) (1) with the Authorization header too, no guard", () => dispatchLike(PLAIN_HOST, token, false)],
  ["(4) auth, auth_pass_headers off: (3) + guardRequest", () => dispatchLike(BARE_HOST, bareToken, true)],
  ["(5) auth, identity headers (applied in the header pass): (3) + guardRequest", () => dispatchLike(AUTH_HOST, token, true)],
  ["verifier.verify(token from Headers.get), a cache hit", () => void verifier.verify(fixed.headers.get("authorization")!.slice(7))],
  ["authenticateAtEdge on one Request (no identity headers set)", () => void authenticateAtEdge(policy, verifier, fixed, facts)],
];
const results = timeRows(import.meta.path, ROWS, () => sink);
printRows(ROWS, results, token.length);
const at = (i: number) => results[i]!;
const diff = (a: number, b: number) => `${(at(a) - at(b)).toFixed(0)} ns`;
console.log(`\nguard on a proxy without auth (2 − 1): ${diff(1, 0)}`);
console.log(`a ${token.length}-character Authorization header on the request (3 − 1): ${diff(2, 0)}`);
console.log(`the checks, no identity headers (4 − 3): ${diff(3, 2)}`);
console.log(`identity headers passed on (5 − 4): ${diff(4, 3)}`);
