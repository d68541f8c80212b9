/**
 * openid-client's failures in words for the log and the user's error page.
 * Its messages name the check that failed ("unexpected JWT "aud" claim
 * value") but never the values compared, and the provider's own error
 * descriptions are its text, not our secrets; both are kept to one short line.
 */
import { AuthorizationResponseError, ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from "openid-client";
import { UpstreamError } from "./upstream-login";

export function describeOidcFailure(error: unknown, timeoutMs: number, phase: "discovery" | "login" = "login"): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const where = phase === "discovery" ? "the identity provider's discovery document" : "the identity provider";
  if (error instanceof ResponseBodyError || error instanceof AuthorizationResponseError) {
    const description = error.error_description ? `: ${printable(error.error_description)}` : "";
    return new UpstreamError(`${where} refused the login (${printable(error.error)}${description})`);
  }
  if (error instanceof WWWAuthenticateChallengeError) {
    return new UpstreamError(`${where} refused the access token (HTTP ${error.status})`);
  }
  // openid-client wraps the fetch's TimeoutError in a ClientError; a custom fetch may not.
  const names = [(error as Error | undefined)?.name, ((error as Error | undefined)?.cause as Error | undefined)?.name];
  if (names.includes("TimeoutError") || names.includes("AbortError")) {
    return new UpstreamError(`${where} did not answer within ${timeoutMs / 1000} s`);
  }
  if (error instanceof ClientError) {
    // The cause says which check failed: ClientError's own message is generic.
    const detail = error.cause instanceof Error ? `: ${printable(error.cause.message)}` : "";
    const status = statusOf(error);
    return new UpstreamError(`${where} gave an answer that failed validation (${printable(error.message)}${detail}${status})`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError(`${where} could not be used: ${printable(message)}`);
}

/** The HTTP status when the failure was an unexpected response (e.g. a 500 from the provider). */
function statusOf(error: ClientError): string {
  const cause = error.cause as { status?: unknown } | undefined;
  return cause && typeof cause.status === "number" ? `, HTTP ${cause.status}` : "";
}

function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 200);
}
