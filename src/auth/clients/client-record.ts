/**
 * A registered OAuth client (`oauth:client:{client_id}`), as RFC 7591 metadata
 * plus what the server adds. Secrets are stored only as SHA-256 hashes: the
 * client secret and the registration access token are shown once, at
 * registration, and never again.
 */
export type TokenEndpointAuthMethod = "none" | "client_secret_basic" | "client_secret_post";

export interface ClientRecord {
  client_id: string;
  /** sha256 hex of the client secret; null for public clients (token_endpoint_auth_method "none"). */
  client_secret_hash: string | null;
  /** sha256 hex of the RFC 7592 registration access token. */
  registration_access_token_hash: string;
  client_name: string | null;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  /** Space-separated scopes the client may ask for. */
  scope: string;
  client_uri: string | null;
  logo_uri: string | null;
  contacts: string[];
  software_id: string | null;
  software_version: string | null;
  /** Seconds since the epoch (RFC 7591 §3.2.1). */
  client_id_issued_at: number;
  /** Seconds since the epoch; 0 = never. */
  client_secret_expires_at: number;
  /** The IP that registered it, for the admin API. */
  registered_from: string | null;
}

/** The fields a client chooses (RFC 7591 §2); everything else in the record is the server's. */
export const CLIENT_METADATA_FIELDS = [
  "client_name",
  "redirect_uris",
  "grant_types",
  "response_types",
  "token_endpoint_auth_method",
  "scope",
  "client_uri",
  "logo_uri",
  "contacts",
  "software_id",
  "software_version",
] as const;

export type ClientMetadata = Pick<ClientRecord, (typeof CLIENT_METADATA_FIELDS)[number]>;

/** A client holds a secret unless it registered as public ("none"). */
export function isConfidentialMethod(method: TokenEndpointAuthMethod): boolean {
  return method !== "none";
}

/** The client-chosen part of a record (or of any wider object), copied so callers cannot alias its arrays. */
export function clientMetadataOf(record: ClientMetadata): ClientMetadata {
  return {
    client_name: record.client_name,
    redirect_uris: [...record.redirect_uris],
    grant_types: [...record.grant_types],
    response_types: [...record.response_types],
    token_endpoint_auth_method: record.token_endpoint_auth_method,
    scope: record.scope,
    client_uri: record.client_uri,
    logo_uri: record.logo_uri,
    contacts: [...record.contacts],
    software_id: record.software_id,
    software_version: record.software_version,
  };
}
