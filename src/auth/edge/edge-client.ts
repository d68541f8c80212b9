/**
 * The gateway's own OAuth client, used by redirect mode to sign browsers in
 * for a proxy. It is public (PKCE, no secret) and may only send codes to the
 * sign-in callback of a host this gateway serves, where only the browser
 * holding that sign-in's cookie can use them.
 */
import { MCP_SCOPES } from "../../core/oauth-config";
import type { ClientRecord } from "../clients/client-record";

export const EDGE_CLIENT_ID = "portcullis-edge";
export const EDGE_CALLBACK_PATH = "/_portcullis/callback";

export const EDGE_CLIENT: ClientRecord = Object.freeze({
  client_id: EDGE_CLIENT_ID,
  client_secret_hash: null,
  registration_access_token_hash: "",
  client_name: "Portcullis sign-in",
  redirect_uris: [],
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  scope: MCP_SCOPES.join(" "),
  client_uri: null,
  logo_uri: null,
  contacts: [],
  software_id: null,
  software_version: null,
  client_id_issued_at: 0,
  client_secret_expires_at: 0,
  registered_from: null,
}) as ClientRecord;

/** A redirect URI the edge client may use: the sign-in callback on a host this gateway serves. */
export function isEdgeCallback(redirectUri: string, servesHost: (host: string) => boolean): boolean {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return false;
  }
  return (url.protocol === "https:" || url.protocol === "http:") && url.pathname === EDGE_CALLBACK_PATH && !url.search && servesHost(url.hostname);
}
