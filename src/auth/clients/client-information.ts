/**
 * The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the
 * registered metadata plus what the server assigned. Stored hashes never
 * appear; the secret and the registration access token only when just issued.
 */
import type { ClientRecord } from "./client-record";

export interface IssuedCredentials {
  readonly clientSecret: string | null;
  readonly registrationAccessToken: string;
}

export type ClientInformation = Record<string, string | number | string[]>;

/** `${issuer}/register/{client_id}`: where RFC 7592 reads, updates and deletes the client. */
export function registrationClientUri(issuer: string, clientId: string): string {
  return `${issuer}/register/${encodeURIComponent(clientId)}`;
}

export function clientInformation(record: ClientRecord, issuer: string, issued?: IssuedCredentials): ClientInformation {
  const info: ClientInformation = { client_id: record.client_id };
  if (issued?.clientSecret) info.client_secret = issued.clientSecret;
  info.client_id_issued_at = record.client_id_issued_at;
  info.client_secret_expires_at = record.client_secret_expires_at;
  if (issued) info.registration_access_token = issued.registrationAccessToken;
  info.registration_client_uri = registrationClientUri(issuer, record.client_id);

  // Absent values are left out rather than sent as null: client libraries validate these fields as optional strings.
  const metadata: Record<string, string | string[] | null> = {
    client_name: record.client_name,
    redirect_uris: record.redirect_uris,
    grant_types: record.grant_types,
    response_types: record.response_types,
    token_endpoint_auth_method: record.token_endpoint_auth_method,
    scope: record.scope,
    client_uri: record.client_uri,
    logo_uri: record.logo_uri,
    contacts: record.contacts,
    software_id: record.software_id,
    software_version: record.software_version,
  };
  for (const [name, value] of Object.entries(metadata)) {
    if (value !== null) info[name] = Array.isArray(value) ? [...value] : value;
  }
  return info;
}
