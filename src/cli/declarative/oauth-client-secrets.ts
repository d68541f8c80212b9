/**
 * OAuth clients' secrets in the declarative file. The gateway keeps only the
 * SHA-256 hashes of a client's secret and registration access token, so that
 * is what travels: `export --include-secrets` writes the hashes sealed with
 * the passphrase (secret-envelope.ts), and apply opens them and hands them to
 * PUT /oauth/clients/{client_id}, after which the client's own secret works
 * where the file was applied. Hashes are compared like any other field (a
 * second apply changes nothing) but never printed.
 */
import type { ApiClient } from "../api-client";
import { CliError } from "../cli-error";
import { CLIENT_SECRET_FIELDS, type ConfigDocument } from "./config-document";
import type { ApplyPlan, Entry } from "./plan";
import { EnvelopeError, openSecret, sealSecret } from "./secret-envelope";

type SealedField = keyof typeof CLIENT_SECRET_FIELDS;
const SEALED_FIELDS = Object.keys(CLIENT_SECRET_FIELDS) as SealedField[];
/** The opened fields, as the import endpoint names them. */
export const HASH_FIELDS: readonly string[] = Object.values(CLIENT_SECRET_FIELDS);

interface HashAnswer {
  client_secret_hash: string | null;
  registration_access_token_hash: string | null;
}

const hashesPath = (clientId: string) => `/api/v1/oauth/clients/${encodeURIComponent(clientId)}/secret-hashes`;

/** A client without token_endpoint_auth_method "none" authenticates with a secret (client_secret_basic is the default). */
export const isConfidentialEntry = (entry: Entry): boolean => (entry.token_endpoint_auth_method ?? "client_secret_basic") !== "none";

export function hasSealedClientHashes(document: ConfigDocument): boolean {
  return (document.oauth_clients ?? []).some((entry) => SEALED_FIELDS.some((field) => entry[field] !== undefined));
}

/** The document with each client's sealed hashes opened into the fields the endpoint takes; throws (exit 2) naming the first that does not open. */
export function openClientHashes(document: ConfigDocument, passphrase: string): ConfigDocument {
  if (!document.oauth_clients) return document;
  const oauth_clients = document.oauth_clients.map((entry) => {
    const opened: Entry = { ...entry };
    for (const field of SEALED_FIELDS) {
      const sealed = entry[field];
      delete opened[field];
      if (sealed === undefined) continue;
      try {
        opened[CLIENT_SECRET_FIELDS[field]] = openSecret(sealed, passphrase);
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        throw new CliError(`OAuth client ${entry.client_id}: ${field} ${error.message}; nothing was applied`, 2);
      }
    }
    return opened;
  });
  return { ...document, oauth_clients } as ConfigDocument;
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

/** Writes each exported client's stored hashes, sealed with the passphrase, into its entry. */
export async function addSealedClientHashes(client: ApiClient, entries: Entry[], passphrase: string): Promise<void> {
  for (const entry of entries) {
    const answer = await client.get<HashAnswer>(hashesPath(String(entry.client_id)));
    for (const field of SEALED_FIELDS) {
      const hash = answer[CLIENT_SECRET_FIELDS[field]];
      if (hash) entry[field] = sealSecret(hash, passphrase);
    }
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
