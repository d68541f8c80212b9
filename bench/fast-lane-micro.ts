/**
 * `bun bench/fast-lane-micro.ts`: the raw edge's JavaScript per request, in
 * one process, no sockets — a profiling aid for scenarios (a) and (e) of
 * bench/ceiling.ts, not a test and not a benchmark of record. Like
 * bench/auth-micro.ts it imports src/: it times the gateway's own functions.
 *
 * Each row takes a request head as the client's bytes and runs what the
 * fast lane does with it before a single byte goes upstream: the head's end
 * found, decoded and parsed (dispatcher/http1/request-head.ts; as on a
 * keep-alive connection, the repeated header block is shared from the
 * previous request and only the request line is parsed), the lane's
 * decision (host table, edge auth with a token already verified), and the
 * upstream head built with its request record (the engine's `send` only keeps
 * what it is given). Differences between rows are what each step costs. Best
 * of several batches, in ns per request, each row in a process of its own.
 */
import { buildHostTable } from "../src/dispatcher/host-table";
import { isRefusal } from "../src/dispatcher/http1/request-head";
import { RepeatedHeads } from "../src/dispatcher/raw-edge/repeated-heads";
import { LastAllowed } from "../src/dispatcher/raw-edge/last-allowed";
import type { ClientConnection } from "../src/dispatcher/raw-edge/client-connection";
import { createFastLane } from "../src/dispatcher/raw-edge/fast-lane";
import { UpstreamHeaderLines } from "../src/dispatcher/raw-edge/upstream-header-lines";
import { RememberedToken } from "../src/auth/edge/edge-tokens";
import type { DispatchOptions } from "../src/dispatcher/dispatch";
import type { ForwardingEngine } from "../src/proxies";
import { DEFAULT_FORWARDING_OPTIONS } from "../src/proxies";
import { parseCidrList } from "../src/proxies/cidr";
import { findHeadEnd } from "../src/proxies/http1/response-head";
import { AUTH_ENV, AUTH_HOST } from "./auth";
import { inMemoryTokens, ISSUER, printRows, proxyRecord as record, timeRows, type MicroRow } from "./micro";
import { PLAIN_HOST } from "./portcullis";

// The proxies of bench/ceiling.ts: (a) without auth, (e) as configureAuthProxy sets it up (bench/auth.ts).
const table = buildHostTable({
  proxies: [
    record(PLAIN_HOST, {}),
    record(AUTH_HOST, {
      auth_enabled: true,
      auth_mode: "forward",
      auth_proxy: `auth.${AUTH_ENV.BASE_DOMAIN}`,
      auth_allowed_audiences: [`https://${AUTH_HOST}`],
      auth_pass_headers: true,
      auth_forward_bearer: false,
    }),
  ],
  routes: [],
  serviceUrls: new Map(),
  edgeAuth: { issuer: ISSUER, allowedUsers: AUTH_ENV.OAUTH_ALLOWED_GITHUB_USERS!.split(",") },
});

const { verifier, mint } = await inMemoryTokens();
const token = await mint(AUTH_HOST);

let sink = 0;
const engine = {
  options: DEFAULT_FORWARDING_OPTIONS,
  send(_target: unknown, request: { bytes: string | Uint8Array }) {
    sink += request.bytes.length;
  },
} as unknown as ForwardingEngine;
const trusted = parseCidrList("");
if (!trusted.ok) throw new Error(trusted.error);
const options = {
  apiHostnames: [],
  table: () => table,
  engine,
  trustedProxies: trusted.list,
  edgeAuth: { verifier, issuer: ISSUER },
  records: { node: "bench" },
} as unknown as DispatchOptions & { engine: ForwardingEngine };
const lane = createFastLane(options);
// One keep-alive connection sending the same headers each time, as wrk's do.
// What ClientConnection keeps per connection: the last head (its block shared with the next) and its headers,
// the token it presented and what edge auth allowed it last.
const heads = new RepeatedHeads();
const client = {
  address: "127.0.0.1",
  trustedPeer: false,
  draining: false,
  upstreamHeaders: new UpstreamHeaderLines(),
  rememberedToken: new RememberedToken(),
  heads,
  lastAllowed: new LastAllowed(),
} as unknown as ClientConnection;

/** What wrk sends in bench/ceiling.ts: (a) its two-line GET, (e) the same with the bearer token. */
const head = (host: string, bearer?: string) => Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\n${bearer ? `Authorization: Bearer ${bearer}\r\n` : ""}\r\n`);

function run(bytes: Buffer, forward: boolean): void {
  const end = findHeadEnd(bytes, 0);
  const parsed = heads.parse(bytes, end);
  if (isRefusal(parsed)) throw new Error(`refused: ${parsed.reason}`);
  const plan = lane.decide(parsed, client);
  if (plan === null || plan instanceof Promise) throw new Error("the fast lane did not take the request at once");
  if (forward) lane.forward(plan, undefined, client);
}

const plainHead = head(PLAIN_HOST);
const authHead = head(AUTH_HOST, token);
const ROWS: readonly MicroRow[] = [
  ["(a) parse + decide", () => run(plainHead, false)],
  ["(a) parse + decide + upstream head", () => run(plainHead, true)],
  ["(e) parse + decide (edge auth)", () => run(authHead, false)],
  ["(e) parse + decide + upstream head (identity headers)", () => run(authHead, true)],
];

const results = timeRows(import.meta.path, ROWS, () => sink);
printRows(ROWS, results, token.length);
const at = (i: number) => results[i]!;
console.log(`\n(e) − (a), parse + decide: ${(at(2) - at(0)).toFixed(0)} ns; upstream head: ${(at(3) - at(2) - (at(1) - at(0))).toFixed(0)} ns; in all: ${(at(3) - at(1)).toFixed(0)} ns`);
