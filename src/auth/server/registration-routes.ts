/**
 * Dynamic client registration (RFC 7591) at POST /register, and the client's
 * own management of that registration (RFC 7592) at /register/{client_id},
 * authorized by the registration access token it got when registering.
 *
 * Every answer is OAuth-shaped JSON with no-store. A wrong token and an
 * unknown client are the same 401, so the endpoint does not reveal which
 * clients exist.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7591#section-3
 * @see https://www.rfc-editor.org/rfc/rfc7592#section-2
 */
import { Elysia } from "elysia";
import type { Redis } from "ioredis";
import { clientInformation, type ClientInformation } from "../clients/client-information";
import type { ClientRecord } from "../clients/client-record";
import { clientSecretMatches } from "../clients/client-secrets";
import type { ClientStore } from "../clients/client-store";
import { parseClientMetadata } from "../clients/registration";
import { countRegistration } from "../clients/registration-rate-limit";
import { readJsonBody } from "../clients/registration-request";
import { bearerToken, clientIp } from "./request-facts";
import { OAuthError, oauthErrorResponse } from "../oauth-error";
import { registrationScopeOptions } from "../scopes/scope-syntax";
import { DISCARD_EVENTS, type OAuthEventSink } from "../../consumers/oauth-events/event";
import { FlowTrace, requestFacts } from "./flow-trace";

export interface RegistrationDependencies {
  readonly clients: ClientStore;
  readonly redis: Redis;
  /** Base of registration_client_uri. */
  readonly issuer: string;
  /** Every scope the server offers now (the configuration changes while it runs). */
  readonly supportedScopes: () => readonly string[];
  /** Registrations per client IP per minute. */
  readonly rateLimitPerMinute: number;
  /** The OAuth flow trace: each registration is a flow of its own. */
  readonly events?: OAuthEventSink;
}

const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

const json = (status: number, body: ClientInformation) => Response.json(body, { status, headers: NO_STORE });

/** Unknown client and wrong token alike (RFC 7592 §2, RFC 6750 §3.1). */
const invalidToken = () => new OAuthError("invalid_token", "the registration access token is missing or not valid for this client");

export function registrationRoutes(deps: RegistrationDependencies) {
  const { clients, issuer } = deps;
  const scopeOptions = () => registrationScopeOptions(deps.supportedScopes());

  /** The client named in the path, if the request carries its registration access token. */
  const authorizedClient = async (request: Request, clientId: string): Promise<ClientRecord> => {
    const token = bearerToken(request);
    if (token === null) throw invalidToken();
    const record = await clients.get(clientId);
    if (!record || !clients.registrationTokenMatches(record, token)) throw invalidToken();
    return record;
  };

  const register = async (request: Request): Promise<Response> => {
    const trace = FlowTrace.start(deps.events ?? DISCARD_EVENTS, requestFacts(request));
    try {
      const response = await registerClient(request);
      const created = (await response.clone().json()) as { client_id: string; client_name?: string };
      trace.step("register", "ok", { client_id: created.client_id, reason: created.client_name ? `client "${created.client_name}"` : null });
      return response;
    } catch (err) {
      trace.step("register", err instanceof OAuthError ? "refused" : "error", { reason: err instanceof OAuthError ? err.description : "internal error" });
      throw err;
    }
  };

  const registerClient = async (request: Request): Promise<Response> => {
    const ip = clientIp(request);
    // Counted before the body is read: malformed attempts cost the same as good ones.
    const rate = await countRegistration(deps.redis, ip ?? "unknown", deps.rateLimitPerMinute);
    if (!rate.allowed) {
      const error = new OAuthError("slow_down", `too many client registrations from this address; retry in ${rate.retryAfterSeconds} s`, 429);
      throw Object.assign(error, { retryAfterSeconds: rate.retryAfterSeconds });
    }
    const parsed = parseClientMetadata(await readJsonBody(request), scopeOptions());
    if (!parsed.ok) throw parsed.error;
    const { record, clientSecret, registrationAccessToken } = await clients.register(parsed.metadata, { ip });
    return json(201, clientInformation(record, issuer, { clientSecret, registrationAccessToken }));
  };

  const read = async (request: Request, clientId: string): Promise<Response> => {
    return json(200, clientInformation(await authorizedClient(request, clientId), issuer));
  };

  const update = async (request: Request, clientId: string): Promise<Response> => {
    const current = await authorizedClient(request, clientId);
    const body = await readJsonBody(request);
    const fields = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
    // RFC 7592 §2.2: the body names the client it updates, and a secret it carries must be the current one.
    if (fields && fields.client_id !== clientId) {
      throw new OAuthError("invalid_client_metadata", "client_id: the body must carry the client_id of the registration it updates");
    }
    if (fields && fields.client_secret !== undefined && !(typeof fields.client_secret === "string" && clientSecretMatches(current, fields.client_secret))) {
      throw new OAuthError("invalid_client_metadata", "client_secret: does not match the client's current secret");
    }
    const parsed = parseClientMetadata(body, scopeOptions());
    if (!parsed.ok) throw parsed.error;
    const updated = await clients.update(clientId, parsed.metadata);
    if (!updated) throw invalidToken();
    return json(200, clientInformation(updated, issuer));
  };

  const remove = async (request: Request, clientId: string): Promise<Response> => {
    await authorizedClient(request, clientId);
    await clients.delete(clientId);
    return new Response(null, { status: 204, headers: NO_STORE });
  };

  return new Elysia({ tags: ["oauth"] })
    .post("/register", ({ request }) => answer(() => register(request)), {
      parse: "none",
      detail: { summary: "Register an OAuth client (RFC 7591)" },
    })
    .get("/register/:client_id", ({ request, params }) => answer(() => read(request, params.client_id)), {
      detail: { summary: "Read a client registration (RFC 7592)" },
    })
    .put("/register/:client_id", ({ request, params }) => answer(() => update(request, params.client_id)), {
      parse: "none",
      detail: { summary: "Replace a client registration's metadata (RFC 7592)" },
    })
    .delete("/register/:client_id", ({ request, params }) => answer(() => remove(request, params.client_id)), {
      parse: "none",
      detail: { summary: "Delete a client registration (RFC 7592)" },
    });
}

/** OAuth errors become their RFC responses; anything else (Redis down, our bugs) goes to the app's error handler. */
async function answer(handler: () => Promise<Response>): Promise<Response> {
  try {
    return await handler();
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    // RFC 6750 §3: a refused bearer token comes with its challenge.
    const challenge: Record<string, string> = error.code === "invalid_token" ? { "www-authenticate": `Bearer error="invalid_token"` } : {};
    const retryAfter = (error as OAuthError & { retryAfterSeconds?: number }).retryAfterSeconds;
    if (retryAfter !== undefined) challenge["retry-after"] = String(retryAfter);
    return oauthErrorResponse(error, challenge);
  }
}
