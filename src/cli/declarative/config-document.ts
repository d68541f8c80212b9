/**
 * The declarative configuration file (`portcullis apply -f`, `portcullis
 * export`): what a gateway serves, as data to keep in git. Its schema is made
 * of the API's own request bodies, so the file accepts exactly what the API
 * does, and `portcullis schema` publishes it for editors.
 */
import { t, type Static } from "elysia";
import { Value } from "@sinclair/typebox/value";
import { parseDocument } from "yaml";
import { MultiDomainCreateBody } from "../../api/schemas/certificate";
import { ProxyCreateBody } from "../../api/schemas/proxy-target";
import { ResourceCreateBody } from "../../api/schemas/resource";
import { RouteCreateBody } from "../../api/schemas/route";
import { DockerServiceCreateBody } from "../../api/schemas/docker-service";
import { ExternalServiceCreateBody } from "../../api/schemas/service";
import { AdminClientBody } from "../../api/schemas/oauth";
import { CLIENT_ID_PATTERN } from "../../api/schemas/oauth-client-import";
import { ENVELOPE_PATTERN } from "./secret-envelope";

export const CONFIG_VERSION = 1;

/** A route in the file needs its id: it is how a second apply finds the route again. */
const RouteEntry = t.Composite([RouteCreateBody, t.Object({ route_id: t.String({ description: "The route's id: how apply finds it again" }) })], { additionalProperties: false });

/**
 * A proxy may carry its own GitHub OAuth app, written by `export
 * --include-secrets`: the client ID and the secret encrypted with the
 * passphrase (secret-envelope.ts). Apply sets them through the proxy's
 * github-oauth endpoint; they are not fields of the proxy's create body.
 */
const ProxyEntry = t.Composite(
  [
    ProxyCreateBody,
    t.Object({
      github_client_id: t.Optional(t.String({ minLength: 1, description: "The proxy's own GitHub OAuth app (with github_client_secret_encrypted)" })),
      github_client_secret_encrypted: t.Optional(
        t.String({ pattern: ENVELOPE_PATTERN, description: "The app's client secret, encrypted with the export passphrase: pc1:<salt>:<iv>:<ciphertext+tag> (AES-256-GCM, scrypt key)" }),
      ),
    }),
  ],
  { additionalProperties: false },
);

/** The fields of a proxy entry that apply sets through the github-oauth endpoint, not the proxy's own. */
export const PROXY_SECRET_FIELDS = ["github_client_id", "github_client_secret_encrypted"] as const;

/**
 * An OAuth client (RFC 7591 metadata) under its own client_id. Secrets are
 * stored only as hashes; `export --include-secrets` writes those hashes
 * encrypted, and apply restores them (PUT /oauth/clients/{client_id}), so the
 * same client_id and secret work where the file is applied.
 */
const OAuthClientEntry = t.Composite(
  [
    t.Object({ client_id: t.String({ pattern: CLIENT_ID_PATTERN, description: "The client's id: how apply finds it again" }) }),
    AdminClientBody,
    t.Object({
      secret_hashes_encrypted: t.Optional(
        t.String({
          pattern: ENVELOPE_PATTERN,
          description:
            'The stored SHA-256 hashes of the client\'s secret and registration access token, as JSON {"client_secret_hash", "registration_access_token_hash"}, encrypted with the export passphrase (pc1, as github_client_secret_encrypted); never a plaintext secret',
        }),
      ),
    }),
  ],
  { additionalProperties: false },
);

/** The field of a client entry that apply opens into the hashes the import endpoint takes (one envelope per client: one scrypt). */
export const CLIENT_SEALED_FIELD = "secret_hashes_encrypted";

export const ConfigDocumentSchema = t.Object(
  {
    version: t.Literal(CONFIG_VERSION, { description: "The file format's version" }),
    certificates: t.Optional(t.Array(MultiDomainCreateBody, { description: "Certificates to request (a proxy's own certificate is planned by the proxy)" })),
    external_services: t.Optional(t.Array(ExternalServiceCreateBody)),
    docker_services: t.Optional(t.Array(DockerServiceCreateBody, { description: "Containers the gateway runs; a change recreates the container (PUT /services/{name})" })),
    proxies: t.Optional(t.Array(ProxyEntry)),
    resources: t.Optional(t.Array(ResourceCreateBody, { description: "Protected resources in the registry" })),
    routes: t.Optional(t.Array(RouteEntry)),
    oauth_clients: t.Optional(t.Array(OAuthClientEntry, { description: "OAuth clients (admin only); confidential ones need their encrypted secret hash to be created" })),
  },
  { additionalProperties: false, title: "Portcullis gateway configuration", description: "portcullis apply -f FILE; written by portcullis export" },
);

export type ConfigDocument = Static<typeof ConfigDocumentSchema>;

/** The kinds, in the order apply creates and updates them (deletes run backwards): what a later kind names must exist first. */
export const KINDS = ["certificates", "external_services", "docker_services", "proxies", "resources", "routes", "oauth_clients"] as const;
export type Kind = (typeof KINDS)[number];

/** The field that names an entry of each kind. */
export const KEY_FIELD: Record<Kind, string> = {
  certificates: "cert_name",
  external_services: "service_name",
  docker_services: "service_name",
  proxies: "hostname",
  resources: "uri",
  routes: "route_id",
  oauth_clients: "client_id",
};

/** The JSON Schema of the file (draft 2020-12 keywords TypeBox emits), for editors and `portcullis schema`. */
export function configJsonSchema(): Record<string, unknown> {
  return { $schema: "https://json-schema.org/draft/2020-12/schema", ...JSON.parse(JSON.stringify(ConfigDocumentSchema)) };
}

export type ParsedConfig = { ok: true; document: ConfigDocument } | { ok: false; errors: string[] };

/** YAML (or JSON, which is YAML) → a checked document, or every problem found, each naming where it is. */
export function parseConfigDocument(text: string): ParsedConfig {
  const yaml = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (yaml.errors.length > 0) return { ok: false, errors: yaml.errors.map((e) => e.message.split("\n")[0]!) };
  const value: unknown = yaml.toJS();
  const errors = [...Value.Errors(ConfigDocumentSchema, value)].slice(0, 20).map((e) => `${e.path || "/"}: ${e.message}`);
  if (errors.length > 0) return { ok: false, errors };
  const document = value as ConfigDocument;
  const problems: string[] = [];
  (document.proxies ?? []).forEach((proxy, index) => {
    // The endpoint sets the two together: one without the other cannot be applied.
    if ((proxy.github_client_id === undefined) !== (proxy.github_client_secret_encrypted === undefined)) {
      problems.push(`/proxies/${index}: github_client_id and github_client_secret_encrypted go together (export --include-secrets writes both)`);
    }
  });
  for (const kind of KINDS) {
    const seen = new Set<string>();
    for (const entry of (document[kind] ?? []) as Record<string, unknown>[]) {
      const key = String(entry[KEY_FIELD[kind]]);
      if (seen.has(key)) problems.push(`/${kind}: ${JSON.stringify(key)} is listed twice`);
      seen.add(key);
    }
  }
  return problems.length > 0 ? { ok: false, errors: problems } : { ok: true, document };
}
