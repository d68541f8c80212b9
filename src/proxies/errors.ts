/**
 * What the client sees when the backend fails. Bodies are fixed text: they never
 * name the backend's host, port or address, nor echo the underlying error.
 */
import { gatewayErrorResponse } from "../core/error-page";

export { prefersJson } from "../core/accept";

export type UpstreamFailure = "refused" | "connect_timeout" | "request_timeout" | "unreachable" | "invalid_response" | "closed";

const FAILURES: Record<UpstreamFailure, { status: 502 | 504; code: string; detail: string }> = {
  refused: { status: 502, code: "bad_gateway", detail: "the upstream service refused the connection" },
  unreachable: { status: 502, code: "bad_gateway", detail: "the upstream service could not be reached" },
  invalid_response: { status: 502, code: "bad_gateway", detail: "the upstream service sent an invalid response" },
  closed: { status: 502, code: "bad_gateway", detail: "the upstream service closed the connection without a response" },
  connect_timeout: { status: 504, code: "gateway_timeout", detail: "the upstream service did not accept the connection in time" },
  request_timeout: { status: 504, code: "gateway_timeout", detail: "the upstream service did not respond in time" },
};

export function isUpstreamFailure(kind: string): kind is UpstreamFailure {
  return Object.hasOwn(FAILURES, kind);
}

/** Thrown inside the engine to carry a classified failure to the response builder. */
export class UpstreamError extends Error {
  constructor(readonly failure: UpstreamFailure, options?: { cause?: unknown }) {
    super(FAILURES[failure].detail, options);
    this.name = "UpstreamError";
  }
}

/** Maps an error from fetch / Bun.connect / WebSocket to a failure kind by its code. */
export function classifyError(error: unknown): UpstreamFailure {
  if (error instanceof UpstreamError) return error.failure;
  const code = String((error as { code?: unknown } | null)?.code ?? "");
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") return "refused";
  if (code === "ETIMEDOUT" || code === "TimeoutError") return "connect_timeout";
  return "unreachable";
}

const STATUS_TEXT = { 502: "Bad Gateway", 504: "Gateway Timeout" } as const;

// Which failure an error response stands for, so metrics can count it by kind without reading the body.
const failureOfResponse = new WeakMap<Response, UpstreamFailure>();

/** The failure kind behind a response from upstreamErrorResponse; undefined for any other response. */
export function upstreamFailureOf(response: Response): UpstreamFailure | undefined {
  return failureOfResponse.get(response);
}

/** `requestId` (the request's X-Request-Id) is shown so a user's report can be matched to the gateway's records. */
export function upstreamErrorResponse(failure: UpstreamFailure, accept: string | null, requestId?: string): Response {
  const response = renderUpstreamError(failure, accept, requestId);
  failureOfResponse.set(response, failure);
  return response;
}

function renderUpstreamError(failure: UpstreamFailure, accept: string | null, requestId?: string): Response {
  const { status, code, detail } = FAILURES[failure];
  return gatewayErrorResponse({ status, title: STATUS_TEXT[status], code, detail, requestId }, accept);
}
