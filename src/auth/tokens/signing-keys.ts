/**
 * The keys that sign access tokens (RS256 or ES256: OAUTH_JWT_ALGORITHM),
 * shared by every node through Redis (`oauth:signing_keys`: kid → record,
 * `oauth:signing_key:current`: kid).
 * Signing and verifying read memory only; memory follows Redis on start, on
 * each `oauth_signing_key_rotated` event (as a StreamFollower), and when a
 * token names a kid this node has not seen yet.
 *
 * The key either comes from OAUTH_JWT_PRIVATE_KEY_B64 (and then only changes
 * with it) or is generated once for the whole cluster and rotated on request.
 * A key that stops being current is retired, not deleted: it keeps verifying
 * and stays in the JWKS for one access-token lifetime, so no token it signed
 * is rejected early.
 *
 * Each key belongs to one algorithm. When the configured algorithm differs
 * from the current key's (OAUTH_JWT_ALGORITHM changed), a starting node makes
 * a new key of the configured algorithm current through that same retirement,
 * so tokens signed before the switch keep verifying until they expire.
 */
import type { Redis } from "ioredis";
import { importJWK, importPKCS8, type JWK } from "jose";
import type { Logger } from "../../core/logger";
import type { JwtAlgorithm } from "../../core/oauth-config";
import type { StreamFollower } from "../../dispatcher/live-config";
import { queueEvent } from "../../orchestration/events";
import { keys } from "../../storage/keys";
import { watchAndCommit } from "../../storage/transaction";
import {
  expiredKids,
  generateRecord,
  isPublished,
  nowSeconds,
  parseRecord,
  publicJwkOf,
  recordFromPem,
  type SigningKeyRecord,
} from "./signing-key-record";

export interface SigningKeySettings {
  /** The algorithm new keys are made for; keys of the other algorithm still verify what they signed. */
  readonly jwtAlgorithm: JwtAlgorithm;
  readonly jwtPrivateKeyPem: string | null;
  readonly accessTokenLifetimeSeconds: number;
}

interface LoadedKey {
  readonly record: SigningKeyRecord;
  readonly publicKey: CryptoKey;
}

/** What signs new tokens: the header's kid and alg come from here. */
export interface Signer {
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  readonly privateKey: CryptoKey;
}

/** A published key, with the one algorithm a token it verifies must name. */
export interface VerificationKey {
  readonly alg: JwtAlgorithm;
  readonly publicKey: CryptoKey;
}

/**
 * Nodes starting together each generate a candidate; the first to run this
 * makes its key current, the others get the winner's kid back and use that.
 */
const CREATE_IF_NONE = `
local current = redis.call('GET', KEYS[2])
if current and redis.call('HEXISTS', KEYS[1], current) == 1 then return current end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1])
return ARGV[1]`;

/** A token naming an unknown kid reloads from Redis at most this often, so garbage tokens cannot flood Redis. */
const UNKNOWN_KID_RELOAD_INTERVAL_MS = 1_000;

export class SigningKeys implements StreamFollower {
  private signer: Signer | undefined;
  private loaded = new Map<string, LoadedKey>();
  /** The configured key's record; this node signs with it whatever Redis says. */
  private configured: SigningKeyRecord | undefined;
  private privateKeys = new Map<string, CryptoKey>();
  private loadsStarted = 0;
  private loadApplied = 0;
  private lastUnknownKidReload = 0;

  constructor(
    private readonly redis: Redis,
    private readonly settings: SigningKeySettings,
    private readonly log: Logger,
  ) {}

  wants(eventType: string): boolean {
    return eventType === "oauth_signing_key_rotated";
  }

  /**
   * Makes sure Redis holds a key of the configured algorithm to sign with (the
   * configured key, or one generated once), then loads the keys.
   */
  async start(): Promise<void> {
    const alg = this.settings.jwtAlgorithm;
    if (this.settings.jwtPrivateKeyPem !== null) {
      this.configured = await recordFromPem(this.settings.jwtPrivateKeyPem, alg);
      const retired = await this.makeCurrent(this.configured);
      if (retired) this.log.info({ kid: this.configured.kid, alg, retired }, "configured OAuth signing key made current");
    } else {
      const current = await this.currentRecordInRedis();
      if (current === "none") {
        const candidate = await generateRecord(alg);
        const kid = String(
          await this.redis.eval(CREATE_IF_NONE, 2, keys.oauthSigningKeys, keys.oauthSigningKeyCurrent, candidate.kid, JSON.stringify(candidate)),
        );
        if (kid === candidate.kid) this.log.info({ kid, alg }, "generated the OAuth signing key");
      } else if (current !== "unreadable" && current.alg !== alg) {
        await this.switchAlgorithm(current);
      }
    }
    await this.reload();
  }

  /** The key new tokens are signed with. */
  current(): Signer {
    if (!this.signer) throw new Error("OAuth signing keys are not loaded: SigningKeys.start() has not run");
    return this.signer;
  }

  /** The verification key for a kid, while tokens it signed may still be valid. */
  verificationKey(kid: string): VerificationKey | undefined {
    const key = this.loaded.get(kid);
    return key && this.stillPublished(key.record) ? { alg: key.record.alg, publicKey: key.publicKey } : undefined;
  }

  /** The JWKS document: the current key first, then retired keys whose tokens may still be valid. @see https://www.rfc-editor.org/rfc/rfc7517#section-5 */
  jwks(): { keys: JWK[] } {
    const currentKid = this.signer?.kid;
    const records = [...this.loaded.values()]
      .map((k) => k.record)
      .filter((r) => this.stillPublished(r))
      .sort((a, b) => Number(b.kid === currentKid) - Number(a.kid === currentKid) || b.created_at - a.created_at);
    return { keys: records.map(publicJwkOf) };
  }

  /** A new key becomes current for every node; the old one is retired and keys retired for a full token lifetime are deleted. */
  async rotate(): Promise<{ kid: string; retired: string[] }> {
    if (this.settings.jwtPrivateKeyPem !== null) {
      throw new Error("the signing key comes from OAUTH_JWT_PRIVATE_KEY_B64: rotate it by changing that variable and restarting");
    }
    const next = await generateRecord(this.settings.jwtAlgorithm);
    const retired = (await this.makeCurrent(next)) ?? [];
    await this.reload();
    this.log.info({ kid: next.kid, alg: next.alg, retired }, "OAuth signing key rotated");
    return { kid: next.kid, retired };
  }

  /** Reads every key from Redis. A slower, older load finishing last never overwrites a newer one. */
  async reload(): Promise<void> {
    const load = ++this.loadsStarted;
    const [currentKid, hash] = await Promise.all([this.redis.get(keys.oauthSigningKeyCurrent), this.redis.hgetall(keys.oauthSigningKeys)]);
    const records = new Map<string, SigningKeyRecord>();
    for (const raw of Object.values(hash)) {
      const record = parseRecord(raw);
      if (record) records.set(record.kid, record);
      else this.log.warn("skipping a malformed record in the OAuth signing key hash");
    }
    // This node signs with the configured key even if another node made a different one current, so it must publish it.
    if (this.configured) records.set(this.configured.kid, { ...(records.get(this.configured.kid) ?? this.configured), retired_at: null });

    const signerRecord = this.configured ?? (currentKid ? records.get(currentKid) : undefined);
    const loaded = new Map<string, LoadedKey>();
    for (const record of records.values()) {
      if (record.kid === signerRecord?.kid || this.stillPublished(record)) loaded.set(record.kid, await this.loadPublic(record));
    }
    let signer = this.signer;
    if (signerRecord) signer = { kid: signerRecord.kid, alg: signerRecord.alg, privateKey: await this.loadPrivate(signerRecord) };
    else if (signer) {
      // Redis lost the current key (flushed?): keep signing with the last one, and keep verifying what it signed.
      const previous = this.loaded.get(signer.kid);
      if (previous) loaded.set(signer.kid, previous);
    }

    if (load < this.loadApplied) return;
    this.loadApplied = load;
    this.loaded = loaded;
    this.signer = signer;
    for (const kid of this.privateKeys.keys()) if (kid !== signer?.kid) this.privateKeys.delete(kid);
  }

  /**
   * For a token naming a kid not in memory: another node may have rotated a
   * moment ago and its event is still on the way. Rate-limited; never throws.
   */
  async reloadForUnknownKid(): Promise<void> {
    if (Date.now() - this.lastUnknownKidReload < UNKNOWN_KID_RELOAD_INTERVAL_MS) return;
    this.lastUnknownKidReload = Date.now();
    try {
      await this.reload();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not reload OAuth signing keys");
    }
  }

  /**
   * OAUTH_JWT_ALGORITHM changed: a new key of the configured algorithm replaces
   * `current` (which is retired and keeps verifying, as on any rotation).
   * Nodes starting together each bring a candidate; the first transaction wins
   * and the others, re-reading inside theirs, find a key of the configured
   * algorithm already current and keep it, so they still agree on one key.
   */
  private async switchAlgorithm(current: SigningKeyRecord): Promise<void> {
    const alg = this.settings.jwtAlgorithm;
    const next = await generateRecord(alg);
    const retired = await this.makeCurrent(next, (kept) => kept.alg === alg);
    if (retired) this.log.info({ kid: next.kid, alg, retired, previous_alg: current.alg }, "OAuth signing algorithm switched: new key made current");
  }

  /**
   * One transaction: `next` becomes current, the old current key is retired,
   * long-retired keys are deleted, and the change is announced to every node.
   * With `keepCurrent`, a current key it accepts stays current instead (decided
   * on what the transaction read, so concurrent callers cannot both replace it).
   * Returns the kids retired now, or null when nothing changed.
   */
  private makeCurrent(next: SigningKeyRecord, keepCurrent?: (current: SigningKeyRecord) => boolean): Promise<string[] | null> {
    return watchAndCommit(this.redis, [keys.oauthSigningKeys, keys.oauthSigningKeyCurrent], async (conn) => {
      const [currentKid, hash] = await Promise.all([conn.get(keys.oauthSigningKeyCurrent), conn.hgetall(keys.oauthSigningKeys)]);
      const records = new Map<string, SigningKeyRecord>();
      for (const raw of Object.values(hash)) {
        const record = parseRecord(raw);
        if (record) records.set(record.kid, record);
      }
      const existing = records.get(next.kid);
      if (currentKid === next.kid && existing?.retired_at === null) return { result: null };
      const old = currentKid ? records.get(currentKid) : undefined;
      if (old && keepCurrent?.(old)) return { result: null };

      const now = nowSeconds();
      const tx = conn.multi();
      const retired: string[] = [];
      if (old && old.kid !== next.kid) {
        const retiredOld = { ...old, retired_at: old.retired_at ?? now };
        records.set(old.kid, retiredOld);
        tx.hset(keys.oauthSigningKeys, old.kid, JSON.stringify(retiredOld));
        retired.push(old.kid);
      }
      records.delete(next.kid);
      const expired = expiredKids(records.values(), now, this.settings.accessTokenLifetimeSeconds);
      if (expired.length > 0) tx.hdel(keys.oauthSigningKeys, ...expired);
      // A key configured again after being retired keeps its original created_at.
      tx.hset(keys.oauthSigningKeys, next.kid, JSON.stringify({ ...next, created_at: existing?.created_at ?? next.created_at, retired_at: null }));
      tx.set(keys.oauthSigningKeyCurrent, next.kid);
      queueEvent(tx, { event_type: "oauth_signing_key_rotated", data: { kid: next.kid, retired } });
      return { commit: tx, result: retired };
    });
  }

  /**
   * The current key as Redis holds it, read before generating anything so a
   * restarting node does not make a key it would throw away. "unreadable": a
   * record this version cannot parse, left alone rather than replaced (it may
   * be a newer version's).
   */
  private async currentRecordInRedis(): Promise<SigningKeyRecord | "none" | "unreadable"> {
    const kid = await this.redis.get(keys.oauthSigningKeyCurrent);
    const raw = kid === null ? null : await this.redis.hget(keys.oauthSigningKeys, kid);
    if (raw === null) return "none";
    return parseRecord(raw) ?? "unreadable";
  }

  private stillPublished(record: SigningKeyRecord): boolean {
    return record.kid === this.signer?.kid || isPublished(record, nowSeconds(), this.settings.accessTokenLifetimeSeconds);
  }

  private async loadPublic(record: SigningKeyRecord): Promise<LoadedKey> {
    const known = this.loaded.get(record.kid);
    if (known) return { record, publicKey: known.publicKey };
    return { record, publicKey: (await importJWK(publicJwkOf(record), record.alg)) as CryptoKey };
  }

  private async loadPrivate(record: SigningKeyRecord): Promise<CryptoKey> {
    let key = this.privateKeys.get(record.kid);
    if (!key) {
      key = await importPKCS8(record.private_pem, record.alg);
      this.privateKeys.set(record.kid, key);
    }
    return key;
  }
}
