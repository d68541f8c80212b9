/**
 * /api/v1/oauth/clients/{client_id} PUT and .../secret-hashes GET: an OAuth
 * client restored with its own client_id and the stored hashes of its
 * secrets, so that a gateway built from `portcullis export --include-secrets`
 * accepts the same client_id and secret. Admin only.
 *
 * Only SHA-256 hashes cross the API, never a plaintext secret: a hash does
 * not authenticate at the token endpoint, and the gateway never learned the
 * plaintext. The metadata goes through the checks of POST /register.
 */
import { Elysia, t } from "elysia";
import { clientMetadataOf } from "../../auth/clients/client-record";
import { parseClientMetadata } from "../../auth/clients/registration";
import { OAuthError } from "../../auth/oauth-error";
import { registrationScopeOptions } from "../../auth/scopes/scope-syntax";
import { invalid, notFound } from "../../core/errors";
import { CLIENT_ID_PATTERN, ClientImportBody } from "../schemas/oauth-client-import";
import { clientView } from "../schemas/oauth-views";
import { ADMIN_TEST_CLIENT_ID } from "./oauth-admin";
import { adminCaller, type OAuthApiDependencies } from "./oauth-status";

const CLIENT_ID = new RegExp(CLIENT_ID_PATTERN);

const ClientIdParams = t.Object({ client_id: t.String({ maxLength: 2000 }) });

function checkClientId(clientId: string): string {
  if (!CLIENT_ID.test(clientId)) throw invalid(`client_id: ${JSON.stringify(clientId.slice(0, 64))} must be 1-128 letters, digits, '.', '_', '~' or '-' (a URL client_id is a metadata document, not a registration)`);
  if (clientId === ADMIN_TEST_CLIENT_ID) throw invalid(`client_id: ${ADMIN_TEST_CLIENT_ID} is reserved for the admin's test tokens`);
  return clientId;
}

export function oauthClientImportRoutes(deps: OAuthApiDependencies) {
  const { oauth } = deps;
  return new Elysia({ prefix: "/oauth", tags: ["oauth"] })
    .derive(async ({ request }) => ({ caller: await adminCaller(request, deps.tokens) }))
    .put(
      "/clients/:client_id",
      async ({ params, body, set }) => {
        const clientId = checkClientId(params.client_id);
        const { client_secret_hash, registration_access_token_hash, ...metadataBody } = body;
        const parsed = parseClientMetadata(metadataBody, registrationScopeOptions(oauth.supportedScopes));
        if (!parsed.ok) throw invalid(parsed.error.description);
        try {
          const { record, created } = await oauth.clients.import(clientId, clientMetadataOf(parsed.metadata), {
            clientSecretHash: client_secret_hash,
            registrationAccessTokenHash: registration_access_token_hash,
          });
          set.status = created ? 201 : 200;
          return { ...clientView(record, oauth.settings.issuer), created };
        } catch (error) {
          if (error instanceof OAuthError) throw invalid(error.description);
          throw error;
        }
      },
      {
        params: ClientIdParams,
        body: ClientImportBody,
        detail: {
          summary:
            "Create or replace an OAuth client with this client_id (RFC 7591 metadata, checked as at /register), optionally with the stored hashes of its secrets: how `portcullis apply` restores exported clients. 201 when created, 200 when replaced",
        },
      },
    )
    .get(
      "/clients/:client_id/secret-hashes",
      async ({ params, set }) => {
        const record = await oauth.clients.get(params.client_id);
        if (!record) throw notFound(`OAuth client ${JSON.stringify(params.client_id)}`);
        set.headers["cache-control"] = "no-store";
        return { client_id: record.client_id, client_secret_hash: record.client_secret_hash, registration_access_token_hash: record.registration_access_token_hash };
      },
      {
        params: ClientIdParams,
        detail: { summary: "The stored SHA-256 hashes of a client's secret and registration access token (for `portcullis export --include-secrets`); each read is audited" },
      },
    );
}
