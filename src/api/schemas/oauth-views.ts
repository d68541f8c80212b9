/**
 * What the OAuth admin API shows of clients, access tokens and sessions
 * (grants). Built field by field rather than by spreading the stored record,
 * so a field added to a record later — a hash, a secret — never reaches a
 * response by accident. Times are ISO 8601, like the rest of the API.
 */
import { registrationClientUri } from "../../auth/clients/client-information";
import { clientMetadataOf, isConfidentialMethod, type ClientRecord } from "../../auth/clients/client-record";
import type { AccessTokenRecord, GrantRecord } from "../../auth/tokens/token-records";

export const isoSeconds = (seconds: number): string => new Date(seconds * 1000).toISOString();

/** A client whose registration (and secret) has passed its lifetime; 0 = never expires. */
export function clientExpired(record: ClientRecord, nowSeconds: number): boolean {
  return record.client_secret_expires_at !== 0 && record.client_secret_expires_at <= nowSeconds;
}

export function clientView(record: ClientRecord, issuer: string, nowSeconds = Math.floor(Date.now() / 1000)) {
  return {
    client_id: record.client_id,
    ...clientMetadataOf(record),
    confidential: isConfidentialMethod(record.token_endpoint_auth_method),
    client_id_issued_at: record.client_id_issued_at,
    client_secret_expires_at: record.client_secret_expires_at,
    created_at: isoSeconds(record.client_id_issued_at),
    expires_at: record.client_secret_expires_at === 0 ? null : isoSeconds(record.client_secret_expires_at),
    expired: clientExpired(record, nowSeconds),
    registered_from: record.registered_from,
    registration_client_uri: registrationClientUri(issuer, record.client_id),
  };
}

/** An access token's record; the token string itself is never stored, so it cannot be shown. */
export function accessTokenView(record: AccessTokenRecord, revoked: boolean, nowSeconds = Math.floor(Date.now() / 1000)) {
  return {
    jti: record.jti,
    client_id: record.client_id,
    sub: record.sub,
    username: record.username,
    scope: record.scope,
    aud: [...record.aud],
    session_id: record.grant_id,
    issued_at: isoSeconds(record.iat),
    expires_at: isoSeconds(record.exp),
    expires_in: Math.max(0, record.exp - nowSeconds),
    revoked,
  };
}

export interface SessionFacts {
  /** Whether the grant still holds a live refresh token. */
  readonly hasRefreshToken: boolean;
  /** Its unexpired, unrevoked access tokens. */
  readonly accessTokens: number;
}

/** A session is one login's grant: the token family a refresh token keeps alive until it expires or is revoked. */
export function sessionView(grant: GrantRecord, facts: SessionFacts, refreshTokenLifetimeSeconds: number) {
  return {
    session_id: grant.grant_id,
    client_id: grant.client_id,
    sub: grant.sub,
    username: grant.username,
    email: grant.email,
    scope: grant.scope,
    resources: [...grant.resources],
    proxy_hostname: grant.proxy_hostname,
    created_at: isoSeconds(grant.created_at),
    auth_time: isoSeconds(grant.auth_time),
    expires_at: isoSeconds(grant.created_at + refreshTokenLifetimeSeconds),
    has_refresh_token: facts.hasRefreshToken,
    access_tokens: facts.accessTokens,
  };
}
