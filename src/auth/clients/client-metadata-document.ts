/**
 * Client ID Metadata Documents: a client whose client_id is an https URL
 * needs no registration; the server fetches that URL and the JSON there is
 * the client's metadata. The MCP authorization spec (2025-11-25) asks servers
 * to support this. Documents are kept in memory per node for as long as their
 * cache headers say (5 minutes to 24 hours).
 *
 * @see https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/
 */
import { DEFAULT_SCOPES } from "../scopes/scope-syntax";
import type { ClientResolver } from "./client-authentication";
import type { ClientRecord } from "./client-record";
import type { ClientStore } from "./client-store";
import { fetchMetadataDocument, type DocumentFetch } from "./metadata-document-fetch";
import { cacheLifetimeSeconds, documentUrl, looksLikeDocumentClientId, parseClientMetadataDocument } from "./metadata-document-parse";

export const DOCUMENT_TIMEOUT_MS = 5000;
export const DOCUMENT_MAX_BYTES = 5 * 1024;
const MAX_CACHED_DOCUMENTS = 1000;

export interface ClientResolverOptions {
  /** Off: URL client_ids are unknown clients. */
  readonly enabled: boolean;
  /** Tests and private deployments only: fetch documents from private, loopback and link-local addresses. */
  readonly allowPrivateAddresses: boolean;
  /** Defaults to the global fetch; a wrapper must pass `init.tls` and `init.headers` on. */
  readonly fetch?: DocumentFetch;
  /** Scopes this server grants now (default: the MCP scopes); a document's other scopes are dropped. */
  readonly supportedScopes?: () => readonly string[];
  /** Default 5 s, for the request and the body together. */
  readonly timeoutMs?: number;
}

interface CachedDocument {
  readonly record: ClientRecord;
  readonly expiresAtMs: number;
}

/** Registered clients from the store, document clients from their URL. */
export class ClientResolverWithDocuments implements ClientResolver {
  private readonly cache = new Map<string, CachedDocument>();
  /** One fetch per document at a time, however many requests name it. */
  private readonly pending = new Map<string, Promise<ClientRecord>>();

  constructor(
    private readonly clients: ClientStore,
    private readonly options: ClientResolverOptions,
  ) {}

  /**
   * The client, or null when unknown. Rejects with invalid_client (and the
   * reason) when a document client_id cannot be used.
   */
  async get(clientId: string): Promise<ClientRecord | null> {
    if (!looksLikeDocumentClientId(clientId)) return this.clients.get(clientId);
    if (!this.options.enabled) return null;
    const cached = this.cache.get(clientId);
    if (cached && cached.expiresAtMs > Date.now()) return cached.record;
    const pending = this.pending.get(clientId);
    if (pending) return pending;
    const loading = this.load(clientId).finally(() => this.pending.delete(clientId));
    this.pending.set(clientId, loading);
    return loading;
  }

  /** Forgets cached documents (all, or one client's). */
  forget(clientId?: string): void {
    if (clientId === undefined) this.cache.clear();
    else this.cache.delete(clientId);
  }

  private async load(clientId: string): Promise<ClientRecord> {
    const url = documentUrl(clientId);
    const fetchedAtMs = Date.now();
    const document = await fetchMetadataDocument(url, {
      allowPrivateAddresses: this.options.allowPrivateAddresses,
      fetch: this.options.fetch ?? fetch,
      timeoutMs: this.options.timeoutMs ?? DOCUMENT_TIMEOUT_MS,
      maxBytes: DOCUMENT_MAX_BYTES,
    });
    const supported = this.options.supportedScopes?.() ?? DEFAULT_SCOPES;
    // A document that names no scope gets the default ones, as a registration would.
    const metadata = parseClientMetadataDocument(clientId, document.text, supported, DEFAULT_SCOPES.filter((s) => supported.includes(s)));
    const record: ClientRecord = {
      ...metadata,
      client_id: clientId,
      client_secret_hash: null,
      registration_access_token_hash: "",
      client_id_issued_at: Math.floor(fetchedAtMs / 1000),
      client_secret_expires_at: 0,
      registered_from: null,
    };
    this.remember(clientId, { record, expiresAtMs: fetchedAtMs + cacheLifetimeSeconds(document.headers, fetchedAtMs) * 1000 });
    return record;
  }

  private remember(clientId: string, entry: CachedDocument): void {
    this.cache.delete(clientId);
    // Oldest first out: a flood of distinct client_ids cannot grow memory without bound.
    while (this.cache.size >= MAX_CACHED_DOCUMENTS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(clientId, entry);
  }
}
