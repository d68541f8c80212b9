/**
 * ACME problem documents (RFC 8555 §6.7), kept verbatim for the status
 * endpoint. acme-client turns them into plain Error messages, so a response
 * interceptor on its HTTP client records each problem in the async context of
 * the issuance that received it; the issuer reads the last one when a step fails.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import * as acme from "acme-client";
import { StepFailure } from "./issuance-steps";

/** A problem document as the CA sent it (`type`, `detail`, maybe `subproblems`, `status`, …). */
export type AcmeProblem = Record<string, unknown> & { detail?: string; type?: string };

interface Capture {
  last: AcmeProblem | null;
}

const captures = new AsyncLocalStorage<Capture>();
let installed = false;

function record(response: { headers?: Record<string, unknown>; data?: unknown } | undefined): void {
  const capture = captures.getStore();
  if (!capture || !response) return;
  const type = String(response.headers?.["content-type"] ?? "");
  if (type.startsWith("application/problem+json") && response.data && typeof response.data === "object") {
    capture.last = response.data as AcmeProblem;
  }
  // Failed authorizations and challenges arrive as 200 responses whose body carries the problem.
  const body = response.data as { status?: string; error?: unknown; challenges?: { error?: unknown }[] } | undefined;
  if (body?.status === "invalid") {
    const problem = body.error ?? body.challenges?.find((c) => c.error)?.error;
    if (problem && typeof problem === "object") capture.last = problem as AcmeProblem;
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  acme.axios.interceptors.response.use(
    (response) => {
      record(response);
      return response;
    },
    (error: { response?: Parameters<typeof record>[0] }) => {
      record(error.response);
      return Promise.reject(error);
    },
  );
}

/**
 * Forgets the problem recorded so far in this issuance: called as each step
 * starts (a problem acme-client recovered from, such as a retried badNonce,
 * is not why a later step failed) and when a step runs out of time.
 */
export function forgetProblem(): void {
  const capture = captures.getStore();
  if (capture) capture.last = null;
}

/**
 * Runs `work`; if it throws, the error carries the last problem document the
 * CA sent during it (or `{ detail: message }` when there was none), and the
 * step it failed at when it was a StepFailure.
 */
export async function withProblemCapture<T>(work: () => Promise<T>): Promise<T> {
  install();
  const capture: Capture = { last: null };
  try {
    return await captures.run(capture, work);
  } catch (err) {
    const message = (err as Error).message;
    throw new IssuanceError(message, capture.last ?? { detail: message }, err instanceof StepFailure ? err.step : null);
  }
}

export class IssuanceError extends Error {
  constructor(
    message: string,
    readonly problem: AcmeProblem,
    /** The step issuance stopped at ("order creation", "self-check of a.example.com"), if known. */
    readonly step: string | null = null,
  ) {
    super(message);
    this.name = "IssuanceError";
  }
}
