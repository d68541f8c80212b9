/**
 * GET /api/v1/logs/follow — the live tail as Server-Sent Events: one
 * `event: request` per new record that passes the filters (host, status,
 * ip) and the caller's visibility, a `: keep-alive` comment after 15 s of
 * silence. Each follower holds its own Redis connection (a blocking XREAD),
 * closed when the client goes away; followers per process are capped.
 */
import { Elysia } from "elysia";
import type { Redis } from "ioredis";
import { ApiError } from "../../core/errors";
import { recordMatches, type LogFilter } from "../../consumers/request-log/filter";
import type { RequestRecord } from "../../consumers/request-log/record";
import { RequestLogTail } from "../../consumers/request-log/tail";
import type { ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import { FOLLOW_PARAMS, parseLogQuery } from "../log-params";
import { logVisibility, type LogVisibility } from "../log-visibility";
import { keepOpen } from "../long-lived";
import { FILTER_PARAMETER_DOCS } from "./logs-openapi";

export const KEEP_ALIVE_MS = 15_000;
/** How long one XREAD waits; also how late a keep-alive or a departed client is noticed at most. */
const BLOCK_MS = 5_000;
/** Ownership can change while a tail runs (a proxy deleted or created): checked again this often. */
const VISIBILITY_REFRESH_MS = 10_000;
export const MAX_FOLLOWERS = 100;
export const TAIL_CONNECTION_NAME = "portcullis-log-tail";

export function sseEvent(record: RequestRecord): string {
  return `event: request\nid: ${record.request_id}\ndata: ${JSON.stringify(record)}\n\n`;
}

export function logFollowRoutes(deps: {
  redis: Redis;
  tokens: TokenRepository;
  proxies: ProxyRepository;
  /** Aborted when the gateway begins to shut down: tails end at once (they have nothing to finish) instead of holding the shutdown's grace period. */
  stopping?: AbortSignal;
}) {
  let followers = 0;

  const follow = async (caller: Caller, query: Record<string, string | undefined>, request: Request) => {
    const { filter } = parseLogQuery(query, FOLLOW_PARAMS, Date.now());
    const live: LogFilter = { ...filter, since: 0, until: null };
    if (followers >= MAX_FOLLOWERS) throw new ApiError("unavailable", `${MAX_FOLLOWERS} live tails are open on this node; retry later`);
    if (deps.stopping?.aborted) throw new ApiError("unavailable", "this node is shutting down; retry shortly");
    let visibility: LogVisibility = await logVisibility(caller, deps.proxies);
    // Named, so CLIENT LIST shows what holds it; the command timeout must outlast one blocking read.
    const tail = new RequestLogTail(deps.redis.duplicate({ connectionName: TAIL_CONNECTION_NAME, commandTimeout: BLOCK_MS + 5_000 }));
    try {
      await tail.open();
    } catch (error) {
      tail.close();
      throw error;
    }
    followers++;
    keepOpen(request);
    const encoder = new TextEncoder();
    let finished = false;
    let endStream = () => {};
    const finish = () => {
      if (finished) return;
      finished = true;
      followers--;
      deps.stopping?.removeEventListener("abort", finish);
      tail.close();
      endStream();
    };
    request.signal.addEventListener("abort", finish);
    deps.stopping?.addEventListener("abort", finish);

    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (text: string) => {
          try {
            controller.enqueue(encoder.encode(text));
            return true;
          } catch {
            finish();
            return false;
          }
        };
        endStream = () => {
          try {
            controller.close();
          } catch {
            // Already closed (by the client, or the pump).
          }
        };
        // Sent once the tail's starting point is fixed: whatever is written from now on is delivered.
        send(": following\n\n");
        const pump = async () => {
          let lastWrite = Date.now();
          let checkedAt = Date.now();
          while (!finished) {
            let records: RequestRecord[];
            try {
              records = await tail.next(BLOCK_MS);
            } catch {
              break; // Redis went away: the client reconnects when it wants.
            }
            if (Date.now() - checkedAt > VISIBILITY_REFRESH_MS) {
              visibility = await logVisibility(caller, deps.proxies).catch(() => visibility);
              checkedAt = Date.now();
            }
            for (const record of records) {
              if (!recordMatches(record, live) || (visibility.record && !visibility.record(record))) continue;
              if (!send(sseEvent(record))) break;
              lastWrite = Date.now();
            }
            if (!finished && Date.now() - lastWrite >= KEEP_ALIVE_MS && send(": keep-alive\n\n")) lastWrite = Date.now();
          }
          finish();
        };
        void pump();
      },
      cancel: finish,
    });
    return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" } });
  };

  return new Elysia({ prefix: "/logs", tags: ["logs"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/follow", ({ caller, query, request }) => follow(caller, query, request), {
      detail: {
        summary: "Follow new requests live (Server-Sent Events)",
        description:
          "text/event-stream: one `event: request` with the record as JSON `data` per new request that matches; a `: keep-alive` comment after 15 s without one. Filters: host, status (502 or 5xx), ip. Non-admin tokens see only their proxies' requests.",
        parameters: FILTER_PARAMETER_DOCS.filter((p) => (FOLLOW_PARAMS as readonly string[]).includes(p.name)),
      },
    });
}
