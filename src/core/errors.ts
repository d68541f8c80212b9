/**
 * One error taxonomy for the whole gateway: every failure a client can see has a
 * stable `code` and an HTTP status, and is rendered as `{ error, detail }`.
 */
export type ErrorCode =
  | "invalid_json"
  | "invalid_request"
  | "invalid_parameter"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_many_requests"
  | "unavailable"
  | "engine_unavailable"
  | "image_not_found"
  | "network_not_found"
  | "engine_error"
  | "build_failed"
  | "build_context_too_large"
  | "internal_error";

const STATUS: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_request: 422,
  /** A query-string parameter that cannot be used (bad status, limit, time…). */
  invalid_parameter: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  /** A per-node or per-token cap (e.g. open log follows); answered with Retry-After. */
  too_many_requests: 429,
  unavailable: 503,
  /** The Docker engine (DOCKER_HOST) did not answer. */
  engine_unavailable: 503,
  /** A service names an image the engine does not have. */
  image_not_found: 400,
  /** A service names a network the engine does not have. */
  network_not_found: 400,
  /** The Docker engine refused or failed an operation; the detail carries its own message. */
  engine_error: 502,
  /** A Dockerfile did not build (bad instruction, a failing RUN, a missing base image, the build timeout); the detail carries the engine's last lines. */
  build_failed: 400,
  /** A Dockerfile's directory holds more than DOCKER_BUILD_CONTEXT_LIMIT bytes. */
  build_context_too_large: 413,
  internal_error: 500,
};

export class ApiError extends Error {
  readonly status: number;
  /** Seconds for a Retry-After header (429 and 503 answers that know when to come back). */
  declare retryAfterSeconds?: number;
  constructor(readonly code: ErrorCode, readonly detail: string) {
    super(detail);
    this.name = "ApiError";
    this.status = STATUS[code];
  }

  toJSON(): { error: ErrorCode; detail: string } {
    return { error: this.code, detail: this.detail };
  }
}

export const notFound = (what: string) => new ApiError("not_found", `${what} not found`);
export const conflict = (detail: string) => new ApiError("conflict", detail);
export const tooManyRequests = (detail: string, retryAfterSeconds: number) => Object.assign(new ApiError("too_many_requests", detail), { retryAfterSeconds });
export const forbidden = (detail: string) => new ApiError("forbidden", detail);
export const invalid = (detail: string) => new ApiError("invalid_request", detail);
/** `detail` names the parameter first: "limit: expected 1 to 1000". */
export const badParameter = (detail: string) => new ApiError("invalid_parameter", detail);
