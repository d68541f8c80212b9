/**
 * What the edge records of every request it answers (docs/observability.md):
 * a RecordDraft is made when a request arrives, filled in as the dispatcher
 * learns things (proxy, route, auth, backend), and finished exactly once when
 * the answer is known — for a streamed body, when its last byte has gone.
 * Finishing hands the record to the sinks (request log, metrics, access log),
 * none of which waits on anything.
 */
import type { AccessTokenClaims } from "../auth/tokens/access-token";
import type { AuthOutcome, RecordKind, RequestRecord } from "../consumers/request-log/record";
import { upstreamFailureOf } from "../proxies/errors";

/** Where finished records go; each member is optional so a gateway runs with any of them off. */
export interface RecordSinks {
  /** NODE_ID: names this gateway in the records. */
  readonly node: string;
  readonly log?: { record(record: RequestRecord): void };
  readonly metrics?: { observe(record: RequestRecord): void };
  readonly accessLog?: { write(record: RequestRecord): void };
}

export class RecordDraft {
  /** Bun.nanoseconds() at arrival: durations come from the monotonic clock, `ts` from the wall clock. */
  private readonly startNs = Bun.nanoseconds();
  private readonly ts = Date.now();
  private done = false;
  kind: RecordKind = "gateway";
  /** Set once the request is past routing: from then on whoever answers finishes the draft itself. */
  finishedDownstream = false;
  proxy: string | undefined;
  route: string | undefined;
  /** The redacted query, for proxies with log_query on. */
  query: string | undefined;
  backend: string | undefined;
  auth: AuthOutcome = "none";
  user: string | undefined;
  clientId: string | undefined;
  mcpMethod: string | undefined;
  mcpTool: string | undefined;
  bytesIn = 0;
  /** Why the gateway answered itself (unknown_host, bad_host, disabled…), when it knows before the response exists. */
  error: string | undefined;
  /** Bun.nanoseconds() when the request went upstream; 0 until then. */
  upstreamStartNs = 0;
  upstreamNs = 0;

  constructor(
    private readonly sinks: RecordSinks,
    readonly ip: string,
    readonly method: string,
    readonly host: string,
    readonly path: string,
    readonly requestId: string,
    readonly traceId: string,
  ) {}

  /** The token the edge accepted for this request. */
  authenticated(claims: AccessTokenClaims | null | undefined): void {
    this.auth = "ok";
    if (!claims) return;
    this.user = claims.login ?? claims.sub;
    this.clientId = claims.client_id;
  }

  /** The backend's response head arrived. */
  upstreamAnswered(): void {
    if (this.upstreamStartNs !== 0) this.upstreamNs = Bun.nanoseconds() - this.upstreamStartNs;
  }

  /** Finishes with a response the gateway has in hand (its own, or a backend's with a buffered body). */
  answered(response: Response | undefined, bytesOut = 0, error?: string): void {
    if (!response) return this.finish(101, 0, error);
    const status = response.status;
    if (this.auth === "none" && (status === 401 || status === 403) && this.kind === "gateway") this.auth = refusal(status, response);
    this.finish(status, bytesOut, error ?? this.error ?? (status >= 502 ? upstreamFailureOf(response) : undefined));
  }

  /** Finishes exactly once; later calls (a stream that ends after a failure was recorded) are ignored. */
  finish(status: number, bytesOut: number, error?: string): void {
    if (this.done) return;
    this.done = true;
    const sinks = this.sinks;
    // Absent facts are left off rather than set to undefined: JSON.stringify (request log, access log) skips an
    // undefined property at a cost, about 10% more instructions for a proxied request's record (callgrind). The
    // properties are added in RequestRecord's order, so the JSON reads as before.
    const record: Mutable<RequestRecord> = { ts: this.ts, node: sinks.node, ip: this.ip, method: this.method, host: this.host, path: this.path } as Mutable<RequestRecord>;
    if (this.query !== undefined) record.query = this.query;
    record.status = status;
    record.bytes_in = this.bytesIn;
    record.bytes_out = bytesOut;
    record.duration_ms = microsecondsAsMs(Bun.nanoseconds() - this.startNs);
    if (this.upstreamNs !== 0) record.upstream_ms = microsecondsAsMs(this.upstreamNs);
    if (this.backend !== undefined) record.backend = this.backend;
    if (this.proxy !== undefined) record.proxy = this.proxy;
    if (this.route !== undefined) record.route = this.route;
    record.kind = this.kind;
    record.auth = this.auth;
    if (this.user !== undefined) record.user = this.user;
    if (this.clientId !== undefined) record.client_id = this.clientId;
    record.request_id = this.requestId;
    record.trace_id = this.traceId;
    if (this.mcpMethod !== undefined) record.mcp_method = this.mcpMethod;
    if (this.mcpTool !== undefined) record.mcp_tool = this.mcpTool;
    if (error !== undefined) record.error = error;
    sinks.log?.record(record);
    sinks.metrics?.observe(record);
    sinks.accessLog?.write(record);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Nanoseconds as milliseconds to the microsecond: as precise as a request log needs, and shorter to store. */
function microsecondsAsMs(ns: number): number {
  return Math.round(ns / 1000) / 1000;
}

/** `401:invalid_token` from the challenge's error parameter; `401:missing_token` when the challenge names none. */
function refusal(status: number, response: Response): AuthOutcome {
  const challenge = response.headers.get("www-authenticate");
  const error = challenge ? /error="([a-z_]{1,64})"/.exec(challenge)?.[1] : undefined;
  return status === 401 ? `401:${error ?? "missing_token"}` : `403:${error ?? "forbidden"}`;
}
