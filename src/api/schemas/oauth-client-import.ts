/**
 * The body of PUT /api/v1/oauth/clients/{client_id} (an OAuth client restored
 * with its own id and the stored hashes of its secrets), and the forms of its
 * id and hashes, shared with the declarative file's oauth_clients entries.
 */
import { t } from "elysia";
import { AdminClientBody } from "./oauth";

/** How a stored secret hash looks: lower-case SHA-256 hex (hashClientSecret). */
export const SECRET_HASH_PATTERN = "^[0-9a-f]{64}$";
/**
 * Unreserved URI characters and no ":" or "/": an imported id can never be an
 * https URL, which would shadow a Client ID Metadata Document client.
 */
export const CLIENT_ID_PATTERN = "^[A-Za-z0-9._~-]{1,128}$";

const hashField = (what: string) =>
  t.Optional(t.String({ pattern: SECRET_HASH_PATTERN, description: `The stored SHA-256 hex of the ${what} (from GET .../secret-hashes of the gateway it comes from); never the plaintext` }));

export const ClientImportBody = t.Composite(
  [
    AdminClientBody,
    t.Object({
      client_secret_hash: hashField("client secret"),
      registration_access_token_hash: hashField("RFC 7592 registration access token"),
    }),
  ],
  { additionalProperties: false },
);
