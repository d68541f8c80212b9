/**
 * Errors of the OAuth endpoints, in the shape the RFCs prescribe
 * (`{ error, error_description }`, RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707 §2)
 * rather than the admin API's `{ error, detail }`.
 */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "unsupported_token_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "server_error"
  | "temporarily_unavailable"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "invalid_token"
  | "slow_down";

const STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  access_denied: 403,
  server_error: 500,
  temporarily_unavailable: 503,
  slow_down: 429,
};

export class OAuthError extends Error {
  readonly status: number;
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    status?: number,
  ) {
    super(description);
    this.name = "OAuthError";
    this.status = status ?? STATUS[code] ?? 400;
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

/** The JSON error response; no-store as RFC 6749 §5.1 asks of every token endpoint answer. */
export function oauthErrorResponse(error: OAuthError, headers: Record<string, string> = {}): Response {
  return Response.json(error.toJSON(), {
    status: error.status,
    headers: { "cache-control": "no-store", pragma: "no-cache", ...headers },
  });
}
