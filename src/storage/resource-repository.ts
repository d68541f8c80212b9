/**
 * Registered protected resources (`resource:{uri}`, spec "Protected Resource
 * Configuration"), keyed by their canonical URI, with the index set
 * `resources:uris`. Each write — one record or many — is one transaction.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { keys } from "./keys";
import { queueDisown, queueOwn, type OwnedResourceKind } from "./ownership";
import { watchAndCommit } from "./transaction";

export const RESOURCE_KIND = "resource";

export interface ResourceRecord {
  /** Canonical (canonicalResource): what tokens carry in `aud`. */
  uri: string;
  name: string;
  /** Hostname of the proxy that serves it, if any. */
  proxy_target: string | null;
  scopes: string[];
  /** Where its RFC 9728 metadata document is served. */
  metadata_url: string;
  description: string;
  owner_token_hash: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export class ResourceRepository {
  constructor(private readonly redis: Redis) {}

  /** Stores a new resource; false if its URI is taken. */
  create(record: ResourceRecord): Promise<boolean> {
    return watchAndCommit(this.redis, [keys.resource(record.uri)], async (conn) => {
      if (await conn.exists(keys.resource(record.uri))) return { result: false };
      const tx = conn.multi();
      queueWrite(tx, null, record);
      return { commit: tx, result: true };
    });
  }

  async get(uri: string): Promise<ResourceRecord | null> {
    return parse(await this.redis.get(keys.resource(uri)));
  }

  async list(): Promise<ResourceRecord[]> {
    const uris = (await this.redis.smembers(keys.resourceUris)).sort();
    if (uris.length === 0) return [];
    return (await this.redis.mget(uris.map(keys.resource))).map(parse).filter((r): r is ResourceRecord => r !== null);
  }

  /** Applies `change` under WATCH (it may throw to refuse; nothing is written). Null when the resource does not exist. */
  update(uri: string, change: (current: ResourceRecord) => ResourceRecord): Promise<ResourceRecord | null> {
    return watchAndCommit(this.redis, [keys.resource(uri)], async (conn) => {
      const current = parse(await conn.get(keys.resource(uri)));
      if (!current) return { result: null };
      const updated = { ...change(current), uri, updated_at: new Date().toISOString() };
      const tx = conn.multi();
      queueWrite(tx, current, updated);
      return { commit: tx, result: updated };
    });
  }

  /**
   * Reads the resources at `uris` (null where none is stored) under WATCH and
   * writes, in one transaction, every record `decide` returns. `decide` runs
   * again if one of them changes meanwhile.
   */
  writeMany<T>(uris: readonly string[], decide: (current: (ResourceRecord | null)[]) => { writes: ResourceRecord[]; result: T }): Promise<T> {
    const watched = [...new Set(uris)].map(keys.resource);
    return watchAndCommit(this.redis, watched, async (conn) => {
      const current = watched.length === 0 ? [] : (await conn.mget(watched)).map(parse);
      const byUri = new Map(current.filter((r): r is ResourceRecord => r !== null).map((r) => [r.uri, r]));
      const { writes, result } = decide(uris.map((uri) => byUri.get(uri) ?? null));
      if (writes.length === 0) return { result };
      for (const record of writes) {
        if (!watched.includes(keys.resource(record.uri))) throw new Error(`writeMany: ${record.uri} was not read first`);
      }
      const tx = conn.multi();
      for (const record of writes) queueWrite(tx, byUri.get(record.uri) ?? null, record);
      return { commit: tx, result };
    });
  }

  /** Deletes the resource; false if it did not exist. */
  delete(uri: string): Promise<boolean> {
    return watchAndCommit(this.redis, [keys.resource(uri)], async (conn) => {
      const current = parse(await conn.get(keys.resource(uri)));
      if (!current) return { result: false };
      const tx = conn.multi();
      queueDelete(tx, current);
      if (current.owner_token_hash) queueDisown(tx, current.owner_token_hash, RESOURCE_KIND, uri);
      return { commit: tx, result: true };
    });
  }

  /** Lets a token's cascade delete remove its resources in the token's transaction. */
  ownedKind(): OwnedResourceKind {
    return {
      kind: RESOURCE_KIND,
      queueDelete: async (tx, uris) => {
        for (const record of await Promise.all(uris.map((uri) => this.get(uri)))) if (record) queueDelete(tx, record);
      },
    };
  }
}

/** The record, its index entry, and its owner's bookkeeping when the owner is new or changed. */
function queueWrite(tx: ChainableCommander, previous: ResourceRecord | null, record: ResourceRecord): void {
  tx.set(keys.resource(record.uri), JSON.stringify(record));
  tx.sadd(keys.resourceUris, record.uri);
  if (previous?.owner_token_hash === record.owner_token_hash) return;
  if (previous?.owner_token_hash) queueDisown(tx, previous.owner_token_hash, RESOURCE_KIND, record.uri);
  if (record.owner_token_hash) queueOwn(tx, record.owner_token_hash, RESOURCE_KIND, record.uri);
}

function queueDelete(tx: ChainableCommander, record: ResourceRecord): void {
  tx.del(keys.resource(record.uri));
  tx.srem(keys.resourceUris, record.uri);
}

function parse(raw: string | null): ResourceRecord | null {
  return raw === null ? null : (JSON.parse(raw) as ResourceRecord);
}
