/**
 * API tokens, stored twice (spec "Token Management"): the record by name
 * (`token:{name}`) and the name by hash (`token:hash:{hash}`) for bearer lookup.
 * `tokens:names` indexes the names so listing never scans the keyspace.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { keys } from "./keys";
import { parseOwnershipMember, type OwnershipRegistry } from "./ownership";
import { watchAndCommit } from "./transaction";

/**
 * admin manages everything; service-owner manages only what it owns; viewer
 * reads and never writes (docs/permissions.md). Records written before the
 * rename say "user": they read as service-owner (parse), so no migration runs.
 */
export type TokenRole = "admin" | "service-owner" | "viewer";
export const TOKEN_ROLES: readonly TokenRole[] = ["admin", "service-owner", "viewer"];
/** The role's former name, still accepted on input and in stored records. */
export const LEGACY_USER_ROLE = "user";

/** A role as a client or a stored record names it, or undefined when it names none. */
export function tokenRoleOf(name: unknown): TokenRole | undefined {
  if (name === LEGACY_USER_ROLE) return "service-owner";
  return TOKEN_ROLES.find((role) => role === name);
}

export interface TokenRecord {
  name: string;
  token: string;
  hash: string;
  role: TokenRole;
  cert_email: string | null;
  created_at: string;
  created_by: string | null;
  owner_token_hash: string | null;
}

const NAMES_INDEX = keys.tokenNames;

/** Sets record, hash index and name index only if neither the name nor the hash is taken. */
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'name_taken' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'hash_taken' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return 'ok'
`;

export type CreateResult = "ok" | "name_taken" | "hash_taken";

export class TokenRepository {
  constructor(
    private readonly redis: Redis,
    private readonly ownership: OwnershipRegistry,
  ) {}

  async create(record: TokenRecord): Promise<CreateResult> {
    const result = await this.redis.eval(
      CREATE_SCRIPT,
      3,
      keys.token(record.name),
      keys.tokenByHash(record.hash),
      NAMES_INDEX,
      JSON.stringify(record),
      record.name,
    );
    return result as CreateResult;
  }

  async getByName(name: string): Promise<TokenRecord | null> {
    return parse(await this.redis.get(keys.token(name)));
  }

  async getByHash(hash: string): Promise<TokenRecord | null> {
    const name = await this.redis.get(keys.tokenByHash(hash));
    if (name === null) return null;
    const record = await this.getByName(name);
    // A record whose hash no longer matches is a stale index entry, not a match.
    return record && record.hash === hash ? record : null;
  }

  /** What deleting the token would delete with it: every resource in its owner set, by kind then id. */
  async owned(hash: string): Promise<{ kind: string; id: string }[]> {
    const members = await this.redis.smembers(keys.ownedBy(hash));
    return members
      .map(parseOwnershipMember)
      .filter((m): m is { kind: string; id: string } => m !== undefined)
      .sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
  }

  async list(): Promise<TokenRecord[]> {
    const names = (await this.redis.smembers(NAMES_INDEX)).sort();
    if (names.length === 0) return [];
    const values = await this.redis.mget(names.map(keys.token));
    return values.map(parse).filter((r): r is TokenRecord => r !== null);
  }

  async setCertEmail(name: string, email: string | null): Promise<TokenRecord | null> {
    return this.update(name, (record) => ({ ...record, cert_email: email }));
  }

  /** Replaces the secret of an existing token (ADMIN_TOKEN changed): the old value stops working. */
  async replaceSecret(name: string, token: string, hash: string): Promise<TokenRecord | null> {
    return this.transact(name, async (record, tx) => {
      tx.del(keys.tokenByHash(record.hash));
      tx.set(keys.tokenByHash(hash), name);
      const updated = { ...record, token, hash };
      tx.set(keys.token(name), JSON.stringify(updated));
      return updated;
    });
  }

  /**
   * Deletes the token and, in the same transaction, every resource it owns.
   * Returns how many resources of each kind went with it, or null if absent.
   */
  async deleteCascading(name: string): Promise<Record<string, number> | null> {
    let counts: Record<string, number> = {};
    let afterCommit: (() => void)[] = [];
    const deleted = await this.transact(name, async (record, tx, conn) => {
      // Watching the owner set makes a resource created meanwhile abort and retry the cascade.
      const ownedKey = keys.ownedBy(record.hash);
      await conn.watch(ownedKey);
      afterCommit = [];
      counts = await this.ownership.queueCascade(tx, await conn.smembers(ownedKey), afterCommit);
      tx.del(keys.token(name), keys.tokenByHash(record.hash), ownedKey);
      tx.srem(NAMES_INDEX, name);
      return record;
    });
    if (!deleted) return null;
    for (const after of afterCommit) after();
    return counts;
  }

  private update(name: string, change: (record: TokenRecord) => TokenRecord): Promise<TokenRecord | null> {
    return this.transact(name, async (record, tx) => {
      const updated = change(record);
      tx.set(keys.token(name), JSON.stringify(updated));
      return updated;
    });
  }

  /** Reads the record under WATCH, lets `build` queue writes, commits; null when the token is absent. */
  private transact<T>(
    name: string,
    build: (record: TokenRecord, tx: ChainableCommander, conn: Redis) => Promise<T>,
  ): Promise<T | null> {
    return watchAndCommit(this.redis, [keys.token(name)], async (conn) => {
      const record = parse(await conn.get(keys.token(name)));
      if (!record) return { result: null };
      const tx = conn.multi();
      return { commit: tx, result: await build(record, tx, conn) };
    });
  }
}

function parse(raw: string | null): TokenRecord | null {
  if (raw === null) return null;
  const record = JSON.parse(raw) as TokenRecord;
  // An unknown role grants the least: read as a viewer rather than fail every request of the token.
  return { ...record, role: tokenRoleOf(record.role) ?? "viewer" };
}
