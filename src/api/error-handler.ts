/**
 * Turns every failure inside the API into `{ error, detail }` with the right
 * status. Bad input is a 4xx naming the problem; only our own bugs are a 500,
 * and those are logged without echoing internals to the client.
 */
import { Elysia, ValidationError } from "elysia";
import { ApiError } from "../core/errors";
import type { Logger } from "../core/logger";
import { pathOf } from "../core/request-path";

export function errorHandler(log: Logger) {
  return new Elysia({ name: "error-handler" }).onError({ as: "global" }, ({ code, error, set, request }) => {
    set.headers["content-type"] = "application/json";
    const reply = (status: number, body: { error: string; detail: string }) => {
      set.status = status;
      return body;
    };

    if (error instanceof ApiError) {
      if (error.retryAfterSeconds !== undefined) set.headers["retry-after"] = String(error.retryAfterSeconds);
      return reply(error.status, error.toJSON());
    }
    switch (code) {
      case "PARSE": {
        // Elysia wraps what a parser throws; ours names the problem (e.g. the nesting limit).
        const cause = (error as Error).cause;
        if (cause instanceof ApiError) return reply(cause.status, cause.toJSON());
        return reply(400, { error: "invalid_json", detail: "the request body is not valid JSON" });
      }
      case "VALIDATION":
        return reply(422, { error: "invalid_request", detail: describeValidation(error as ValidationError) });
      case "NOT_FOUND":
        return reply(404, { error: "not_found", detail: `no endpoint ${request.method} ${pathOf(request.url)}` });
    }
    if (isStorageOutage(error)) {
      log.warn({ err: (error as Error).message, request_id: requestIdOf(request) }, "api request failed: redis unavailable");
      return reply(503, { error: "unavailable", detail: "storage is unreachable; retry shortly" });
    }
    log.error({ err: error, method: request.method, path: pathOf(request.url), request_id: requestIdOf(request) }, "unhandled api error");
    return reply(500, { error: "internal_error", detail: "internal error; see the gateway log" });
  });
}

function describeValidation(error: ValidationError): string {
  const first = error.all[0];
  if (!first) return "the request does not match the expected schema";
  const where = "path" in first && first.path ? first.path.replace(/^\//, "").replaceAll("/", ".") : error.type;
  const allowed = "schema" in first ? allowedValues(first.schema) : undefined;
  if (allowed) return `${where || error.type}: expected one of ${allowed.join(", ")} (got ${shortJson(first.value)})`;
  const message = "summary" in first && first.summary ? first.summary : first.message;
  return `${where || error.type}: ${message}`;
}

/** The value sent, as JSON, cut to 100 characters: an error message is no place to echo a large body back. */
function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 100 ? `${json.slice(0, 100)}…` : json;
}

/**
 * The values an enum-like schema accepts (a union of literals, or `enum`), as
 * JSON, so the message lists them: TypeBox's own summary lists their types
 * ("should be one of: 'string', 'string'").
 */
export function allowedValues(schema: unknown): string[] | undefined {
  const s = schema as { anyOf?: unknown[]; enum?: unknown[] } | undefined;
  if (Array.isArray(s?.enum)) return s.enum.map((value) => JSON.stringify(value));
  if (!Array.isArray(s?.anyOf) || s.anyOf.length === 0) return undefined;
  const values: string[] = [];
  for (const branch of s.anyOf) {
    if (branch && typeof branch === "object" && (branch as { type?: unknown }).type === "null") values.push("null");
    else if (branch && typeof branch === "object" && "const" in branch) values.push(JSON.stringify(branch.const));
    else return undefined;
  }
  return values;
}

/**
 * ioredis reports a lost connection and a timed-out command through these
 * messages. Matched by text, not class name: the compiled binary is minified.
 */
const UNREACHABLE = /max retries per request|Connection is closed|Command timed out|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue/i;

/**
 * A server that answers but cannot take the command now: a demoted master
 * during a Sentinel failover (READONLY), a master short of the replicas
 * min-replicas-to-write asks for (NOREPLICAS), a replica cut off from its
 * master or still loading its data. Redis's own error codes, upper case.
 */
const REFUSED = /\b(READONLY|NOREPLICAS|MASTERDOWN|LOADING)\b/;

function isStorageOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (UNREACHABLE.test(error.message) || REFUSED.test(error.message)) return true;
  // A MULTI refused as a whole (EXECABORT) names the reason in its queued commands' errors.
  const previous = (error as { previousErrors?: unknown }).previousErrors;
  return Array.isArray(previous) && previous.some((e) => e instanceof Error && REFUSED.test(e.message));
}

/** The edge's request id (X-Request-Id, set by the edge for API_HOSTNAME requests), so a log line can be matched to its request record. */
function requestIdOf(request: Request): string | undefined {
  return request.headers.get("x-request-id") ?? undefined;
}
