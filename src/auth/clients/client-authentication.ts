/**
 * Who is calling the token endpoint (and /revoke, /introspect): one of the
 * three client authentication methods a client may register, and only the one
 * it registered.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-2 (token_endpoint_auth_method)
 */
import { OAuthError, type OAuthErrorCode } from "../oauth-error";
import type { ClientRecord, TokenEndpointAuthMethod } from "./client-record";
import { clientSecretMatches } from "./client-secrets";

/** Looks clients up by id: the ClientStore, or a resolver in front of it (metadata documents). */
export interface ClientResolver {
  get(clientId: string): Promise<ClientRecord | null>;
}

/**
 * A failed client authentication. When the client tried HTTP Basic, the
 * response must be a 401 carrying a Basic challenge (RFC 6749 §5.2):
 * `oauthErrorResponse(error, error.challengeHeaders("Portcullis"))`.
 */
export class ClientAuthenticationError extends OAuthError {
  constructor(
    code: OAuthErrorCode,
    description: string,
    readonly basicAttempted: boolean,
  ) {
    super(code, description);
    this.name = "ClientAuthenticationError";
  }

  /** `WWW-Authenticate: Basic realm="…"` for an invalid_client after a Basic attempt; otherwise no headers. */
  challengeHeaders(realm: string): Record<string, string> {
    if (!this.basicAttempted || this.code !== "invalid_client") return {};
    return { "www-authenticate": `Basic realm="${realm.replace(/["\\]/g, "")}", charset="UTF-8"` };
  }
}

/** The challenge headers for any error an endpoint caught: empty unless it is a Basic-attempt client failure. */
export function clientAuthenticationChallenge(error: unknown, realm: string): Record<string, string> {
  return error instanceof ClientAuthenticationError ? error.challengeHeaders(realm) : {};
}

interface Credentials {
  readonly method: TokenEndpointAuthMethod;
  readonly clientId: string;
  readonly secret: string | null;
}

/**
 * Authenticates the client of a token-endpoint request whose form body the
 * caller already parsed. Resolves to the client's record; rejects with a
 * ClientAuthenticationError (invalid_client 401, or invalid_request 400 for a
 * malformed request).
 */
export async function authenticateClient(request: Request, form: URLSearchParams, clients: ClientResolver): Promise<ClientRecord> {
  const credentials = presentedCredentials(request.headers.get("authorization"), form);
  const basic = credentials.method === "client_secret_basic";
  const fail = (description: string) => new ClientAuthenticationError("invalid_client", description, basic);

  let record: ClientRecord | null;
  try {
    record = await clients.get(credentials.clientId);
  } catch (error) {
    // A metadata document that cannot be used is an unknown client, reported with the reason.
    if (error instanceof OAuthError && !(error instanceof ClientAuthenticationError)) throw fail(error.description);
    throw error;
  }
  if (!record) throw fail("unknown client");
  if (record.token_endpoint_auth_method !== credentials.method) {
    throw fail(`the client is registered for ${record.token_endpoint_auth_method}, not ${credentials.method}`);
  }
  if (credentials.secret !== null && !clientSecretMatches(record, credentials.secret)) throw fail("client authentication failed");
  return record;
}

/** Which method the request uses, and with what; at most one method per request (RFC 6749 §2.3). */
function presentedCredentials(authorization: string | null, form: URLSearchParams): Credentials {
  const formId = singleParameter(form, "client_id");
  const formSecret = singleParameter(form, "client_secret");
  const basic = authorization === null ? null : basicCredentials(authorization);

  if (basic) {
    if (formSecret !== null) {
      throw new ClientAuthenticationError("invalid_request", "use one client authentication method: Basic credentials and a client_secret parameter were both sent", false);
    }
    if (formId !== null && formId !== basic.clientId) {
      throw new ClientAuthenticationError("invalid_request", "client_id in the body differs from the one in the Basic credentials", false);
    }
    return { method: "client_secret_basic", clientId: basic.clientId, secret: basic.secret };
  }
  if (formId === null) {
    const description = formSecret === null ? "client authentication is missing: send client_id, with the client's credentials if it has any" : "client_secret sent without client_id";
    throw new ClientAuthenticationError("invalid_client", description, false);
  }
  return formSecret === null ? { method: "none", clientId: formId, secret: null } : { method: "client_secret_post", clientId: formId, secret: formSecret };
}

/**
 * A parameter given at most once; an empty value counts as absent (RFC 6749 §3.1),
 * a repeated one is refused.
 */
function singleParameter(form: URLSearchParams, name: string): string | null {
  const values = form.getAll(name);
  if (values.length > 1) throw new ClientAuthenticationError("invalid_request", `${name} must not be repeated`, false);
  return values[0] ? values[0] : null;
}

/** `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1); any other scheme is refused. */
function basicCredentials(authorization: string): { clientId: string; secret: string } {
  const invalid = (why: string) => new ClientAuthenticationError("invalid_client", `Authorization header: ${why}`, true);
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  if (!match) {
    throw /^Basic\b/i.test(authorization) ? invalid("malformed Basic credentials") : invalid("only the Basic scheme authenticates clients here");
  }
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw invalid("Basic credentials must be client_id:client_secret");
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (clientId === null || secret === null) throw invalid("Basic credentials are not form-urlencoded");
  if (clientId === "") throw invalid("the client_id in the Basic credentials is empty");
  return { clientId, secret };
}

function formDecode(value: string): string | null {
  try {
    return decodeURIComponent(value.replaceAll("+", " "));
  } catch {
    return null;
  }
}
