/**
 * OAuth clients' secrets in the declarative file. The gateway keeps only the
 * SHA-256 hashes of a client's secret and registration access token, so that
 * is what travels: `export --include-secrets` writes them, as one JSON object
 * per client, sealed with the passphrase (secret-envelope.ts: one scrypt per
 * envelope, so one envelope per client), and apply opens them and hands them to
 * PUT /oauth/clients/{client_id}, after which the client's own secret works
 * where the file was applied. Hashes are compared like any other field (a
 * second apply changes nothing) but never printed.
 */
import type { ApiClient } from "../api-client";
import { CliError } from "../cli-error";
import { SECRET_HASH_PATTERN } from "../../api/schemas/oauth-client-import";
import { CLIENT_SEALED_FIELD, type ConfigDocument } from "./config-document";
import type { ApplyPlan, Entry } from "./plan";
import { EnvelopeError, openSecret, sealSecret } from "./secret-envelope";

/** The opened fields, as the import endpoint names them. */
export const HASH_FIELDS: readonly string[] = ["client_secret_hash", "registration_access_token_hash"];
const HASH = new RegExp(SECRET_HASH_PATTERN);

interface HashAnswer {
  client_secret_hash: string | null;
  registration_access_token_hash: string | null;
}

const hashesPath = (clientId: string) => `/api/v1/oauth/clients/${encodeURIComponent(clientId)}/secret-hashes`;

/** A client without token_endpoint_auth_method "none" authenticates with a secret (client_secret_basic is the default). */
export const isConfidentialEntry = (entry: Entry): boolean => (entry.token_endpoint_auth_method ?? "client_secret_basic") !== "none";

export function hasSealedClientHashes(document: ConfigDocument): boolean {
  return (document.oauth_clients ?? []).some((entry) => entry[CLIENT_SEALED_FIELD] !== undefined);
}

/** The document with each client's sealed hashes opened into the fields the endpoint takes; throws (exit 2) naming the first that does not open. */
export function openClientHashes(document: ConfigDocument, passphrase: string): ConfigDocument {
  if (!document.oauth_clients) return document;
  const oauth_clients = document.oauth_clients.map((entry) => {
    const { [CLIENT_SEALED_FIELD]: sealed, ...opened } = entry as Entry;
    if (sealed === undefined) return opened;
    const fail = (why: string) => new CliError(`OAuth client ${entry.client_id}: ${CLIENT_SEALED_FIELD} ${why}; nothing was applied`, 2);
    let text: string;
    try {
      text = openSecret(String(sealed), passphrase);
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      throw fail(error.message);
    }
    return { ...opened, ...hashesIn(text, fail) };
  });
  return { ...document, oauth_clients } as ConfigDocument;
}

/** The hashes a opened envelope holds, each in the stored form; anything else is refused before it reaches the gateway. */
function hashesIn(text: string, fail: (why: string) => Error): Entry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail("does not hold secret hashes");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail("does not hold secret hashes");
  const fields = Object.entries(value);
  if (fields.some(([field, hash]) => !HASH_FIELDS.includes(field) || typeof hash !== "string" || !HASH.test(hash))) {
    throw fail(`holds something other than ${HASH_FIELDS.join(" and ")} (lower-case SHA-256 hex)`);
  }
  return Object.fromEntries(fields);
}

/**
 * Puts the gateway's hashes into the entries of the clients whose file entry
 * carries one, so the plan compares them: an equal hash is no change.
 */
export async function addCurrentHashes(client: ApiClient, current: Entry[], wanted: readonly Entry[]): Promise<void> {
  const withHashes = new Set(wanted.filter((entry) => HASH_FIELDS.some((field) => entry[field] !== undefined)).map((entry) => String(entry.client_id)));
  for (const entry of current) {
    if (!withHashes.has(String(entry.client_id))) continue;
    const answer = await client.get<HashAnswer>(hashesPath(String(entry.client_id)));
    for (const field of HASH_FIELDS) entry[field] = answer[field as keyof HashAnswer] ?? undefined;
  }
}

/** Writes each exported client's stored hashes, sealed together with the passphrase, into its entry. */
export async function addSealedClientHashes(client: ApiClient, entries: Entry[], passphrase: string): Promise<void> {
  for (const entry of entries) {
    const answer = await client.get<HashAnswer>(hashesPath(String(entry.client_id)));
    const hashes = Object.fromEntries(HASH_FIELDS.map((field) => [field, answer[field as keyof HashAnswer]]).filter(([, hash]) => hash));
    if (Object.keys(hashes).length > 0) entry[CLIENT_SEALED_FIELD] = sealSecret(JSON.stringify(hashes), passphrase);
  }
}

/**
 * A confidential client the gateway does not have cannot be created without
 * its secret hash (the endpoint would refuse it): the plan lists it as a
 * conflict that says how to bring it, instead of a create bound to fail.
 */
export function withoutUncreatableClients(plan: ApplyPlan): ApplyPlan {
  const uncreatable = plan.changes.filter(
    (change) => change.kind === "oauth_clients" && change.action === "create" && isConfidentialEntry(change.body ?? {}) && change.body?.client_secret_hash === undefined,
  );
  if (uncreatable.length === 0) return plan;
  return {
    ...plan,
    changes: plan.changes.filter((change) => !uncreatable.includes(change)),
    conflicts: [
      ...plan.conflicts,
      ...uncreatable.map((change) => ({
        kind: change.kind,
        name: change.name,
        detail:
          "a confidential client this gateway does not have, and the file carries no secret for it: export it with --include-secrets (its secret hash, encrypted), or register a new client (portcullis oauth client-register) and give its users the new secret",
      })),
    ],
  };
}
