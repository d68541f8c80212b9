/**
 * Registered OAuth clients in Redis (`oauth:client:{client_id}`, one JSON
 * record each). A client expires with its key after OAUTH_CLIENT_LIFETIME; its
 * secret expires with it, which is what client_secret_expires_at announces.
 */
import type { Redis } from "ioredis";
import { keys } from "../../storage/keys";
import { watchAndCommit } from "../../storage/transaction";
import { OAuthError } from "../oauth-error";
import { clientMetadataOf, isConfidentialMethod, type ClientMetadata, type ClientRecord } from "./client-record";
import { clientSecretMatches, generateClientId, generateClientSecret, generateRegistrationAccessToken, hashClientSecret, secretMatchesHash } from "./client-secrets";

export interface ClientStoreSettings {
  /** Seconds a registration lives; 0 = forever. */
  readonly clientLifetimeSeconds: number;
}

export interface RegisteredClient {
  readonly record: ClientRecord;
  /** Shown once, at registration; null for public clients. */
  readonly clientSecret: string | null;
  /** Shown once, at registration (RFC 7592 §3). */
  readonly registrationAccessToken: string;
}

const SCAN_BATCH = 500;

/** The stored hashes an import may carry over from another gateway (sha256 hex, as hashClientSecret writes them). */
export interface ImportedHashes {
  readonly clientSecretHash?: string;
  readonly registrationAccessTokenHash?: string;
}

export class ClientStore {
  constructor(
    private readonly redis: Redis,
    private readonly settings: ClientStoreSettings,
  ) {}

  /** Stores a new client with fresh credentials; only their hashes reach Redis. */
  async register(metadata: ClientMetadata, context: { ip: string | null }): Promise<RegisteredClient> {
    const lifetime = this.settings.clientLifetimeSeconds;
    const clientSecret = isConfidentialMethod(metadata.token_endpoint_auth_method) ? generateClientSecret() : null;
    const registrationAccessToken = generateRegistrationAccessToken();
    const issuedAt = Math.floor(Date.now() / 1000);
    // 128 random bits never collide in practice; NX only makes sure a collision cannot overwrite a client.
    for (let attempt = 0; attempt < 3; attempt++) {
      const record: ClientRecord = {
        ...clientMetadataOf(metadata),
        client_id: generateClientId(),
        client_secret_hash: clientSecret === null ? null : hashClientSecret(clientSecret),
        registration_access_token_hash: hashClientSecret(registrationAccessToken),
        client_id_issued_at: issuedAt,
        client_secret_expires_at: lifetime > 0 ? issuedAt + lifetime : 0,
        registered_from: context.ip,
      };
      const key = keys.oauthClient(record.client_id);
      const value = JSON.stringify(record);
      const stored = lifetime > 0 ? await this.redis.set(key, value, "EX", lifetime, "NX") : await this.redis.set(key, value, "NX");
      if (stored === "OK") return { record, clientSecret, registrationAccessToken };
    }
    throw new Error("client_id generation collided three times");
  }

  async get(clientId: string): Promise<ClientRecord | null> {
    return parseRecord(await this.redis.get(keys.oauthClient(clientId)));
  }

  /**
   * Replaces a client's metadata (RFC 7592 §2.2), keeping its id, credentials,
   * issue time and remaining lifetime. Null when the client does not exist.
   * Throws invalid_client_metadata when the update would need a secret the
   * client does not have, or orphan the one it has.
   */
  async update(clientId: string, metadata: ClientMetadata): Promise<ClientRecord | null> {
    const current = await this.get(clientId);
    if (!current) return null;
    if (isConfidentialMethod(current.token_endpoint_auth_method) !== isConfidentialMethod(metadata.token_endpoint_auth_method)) {
      throw new OAuthError(
        "invalid_client_metadata",
        `token_endpoint_auth_method: a client cannot switch between public ("none") and confidential (currently ${JSON.stringify(current.token_endpoint_auth_method)}); register a new client`,
      );
    }
    const updated: ClientRecord = {
      ...clientMetadataOf(metadata),
      client_id: current.client_id,
      client_secret_hash: current.client_secret_hash,
      registration_access_token_hash: current.registration_access_token_hash,
      client_id_issued_at: current.client_id_issued_at,
      client_secret_expires_at: current.client_secret_expires_at,
      registered_from: current.registered_from,
    };
    // XX: a client deleted or expired meanwhile stays gone; KEEPTTL: an update does not extend its life.
    const stored = await this.redis.set(keys.oauthClient(clientId), JSON.stringify(updated), "KEEPTTL", "XX");
    return stored === "OK" ? updated : null;
  }

  /**
   * Creates or replaces the client `clientId` with `metadata` and, when given,
   * the stored hashes of its secrets (an export's restore). A new client gets
   * the registration lifetime from now; an existing one keeps its issue time,
   * remaining lifetime and any hash not given. One WATCH/MULTI transaction: a
   * concurrent write makes it decide again, never half-write. Throws
   * invalid_client_metadata when a confidential client would have no secret, a
   * public one would have one, or the client would switch between the two.
   */
  async import(clientId: string, metadata: ClientMetadata, hashes: ImportedHashes): Promise<{ record: ClientRecord; created: boolean }> {
    const key = keys.oauthClient(clientId);
    const confidential = isConfidentialMethod(metadata.token_endpoint_auth_method);
    if (!confidential && hashes.clientSecretHash !== undefined) {
      throw new OAuthError("invalid_client_metadata", 'client_secret_hash: a public client (token_endpoint_auth_method "none") has no secret');
    }
    return watchAndCommit(this.redis, [key], async (conn) => {
      const current = parseRecord(await conn.get(key));
      if (current && isConfidentialMethod(current.token_endpoint_auth_method) !== confidential) {
        throw new OAuthError(
          "invalid_client_metadata",
          `token_endpoint_auth_method: a client cannot switch between public ("none") and confidential (currently ${JSON.stringify(current.token_endpoint_auth_method)}); delete it first`,
        );
      }
      const secretHash = hashes.clientSecretHash ?? current?.client_secret_hash ?? null;
      if (confidential && secretHash === null) {
        throw new OAuthError("invalid_client_metadata", "client_secret_hash: required to create a confidential client (export --include-secrets carries it; POST /oauth/clients registers one with a new secret)");
      }
      const issuedAt = current?.client_id_issued_at ?? Math.floor(Date.now() / 1000);
      const lifetime = this.settings.clientLifetimeSeconds;
      const record: ClientRecord = {
        ...clientMetadataOf(metadata),
        client_id: clientId,
        client_secret_hash: secretHash,
        // A new client without one gets a token nobody holds: only the admin API manages it.
        registration_access_token_hash: hashes.registrationAccessTokenHash ?? current?.registration_access_token_hash ?? hashClientSecret(generateRegistrationAccessToken()),
        client_id_issued_at: issuedAt,
        client_secret_expires_at: current ? current.client_secret_expires_at : lifetime > 0 ? issuedAt + lifetime : 0,
        registered_from: current?.registered_from ?? null,
      };
      const value = JSON.stringify(record);
      const commit = conn.multi();
      if (current) commit.set(key, value, "KEEPTTL");
      else if (lifetime > 0) commit.set(key, value, "EX", lifetime);
      else commit.set(key, value);
      return { commit, result: { record, created: current === null } };
    });
  }

  async delete(clientId: string): Promise<boolean> {
    return (await this.redis.del(keys.oauthClient(clientId))) > 0;
  }

  /** Every registered client, oldest first. SCAN, so a large registry never blocks Redis. */
  async list(): Promise<ClientRecord[]> {
    const records: ClientRecord[] = [];
    for await (const batch of this.scanKeys()) {
      const values = await this.redis.mget(batch);
      for (const value of values) {
        const record = parseRecord(value);
        if (record) records.push(record);
      }
    }
    return records.sort((a, b) => a.client_id_issued_at - b.client_id_issued_at || a.client_id.localeCompare(b.client_id));
  }

  /** Client keys in Redis, without reading them (list() may be shorter by any unreadable record). */
  async count(): Promise<number> {
    let total = 0;
    for await (const batch of this.scanKeys()) total += batch.length;
    return total;
  }

  /** Constant-time check of a presented client secret; public clients and expired secrets never match. */
  secretMatches(record: ClientRecord, secret: string): boolean {
    return clientSecretMatches(record, secret);
  }

  /** Constant-time check of an RFC 7592 registration access token. */
  registrationTokenMatches(record: ClientRecord, token: string): boolean {
    return secretMatchesHash(record.registration_access_token_hash, token);
  }

  private async *scanKeys(): AsyncGenerator<string[]> {
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const [next, found] = await this.redis.scan(cursor, "MATCH", keys.oauthClient("*"), "COUNT", SCAN_BATCH);
      cursor = next;
      // SCAN may return a key twice while the keyspace is rehashed.
      const fresh = found.filter((key) => !seen.has(key));
      for (const key of fresh) seen.add(key);
      if (fresh.length > 0) yield fresh;
    } while (cursor !== "0");
  }
}

function parseRecord(value: string | null): ClientRecord | null {
  if (value === null) return null;
  try {
    const record = JSON.parse(value) as ClientRecord;
    return typeof record === "object" && record !== null && typeof record.client_id === "string" ? record : null;
  } catch {
    return null;
  }
}
