/**
 * Authorization codes (`oauth:code:{code}`): issued at /callback, redeemed once
 * at /token within 60 s. Redeeming turns the code into a tombstone, kept ten
 * minutes, so a second redemption is recognised as a replay and the grant the
 * first one started can be revoked (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3).
 *
 * The key is a hash: `state` (issued | consumed), `record` (JSON, while
 * issued), `grant_id` and `replayed` (on the tombstone).
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { UserIdentity } from "../identity";
import { keys } from "../../storage/keys";

export interface AuthorizationCodeRecord {
  client_id: string;
  redirect_uri: string;
  /** S256 PKCE challenge. */
  code_challenge: string;
  scope: string;
  /** RFC 8707 resource indicators asked for at /authorize. */
  resources: string[];
  identity: UserIdentity;
  /** The proxy whose login this was, when the login ran for a proxied site; null for the gateway's own server. */
  proxy_hostname: string | null;
  /** When the user authenticated upstream, seconds since the epoch. */
  auth_time: number;
  /** The OAuth flow trace's id of the sign-in that made this code. */
  flow_id?: string;
}

export type ConsumeResult =
  | { ok: true; record: AuthorizationCodeRecord }
  | { ok: false; reason: "unknown" }
  | { ok: false; reason: "reused"; grantId: string | null };

export const CODE_LIFETIME_SECONDS = 60;
/** Long enough to catch a replay of an intercepted code; far past the code's own life. */
export const CODE_TOMBSTONE_SECONDS = 600;
/** 32 random bytes, unpadded base64url. */
const CODE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/** First redemption takes the record and leaves a tombstone; any later one flags the tombstone. */
const CONSUME = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown'} end
if state == 'issued' then
  local record = redis.call('HGET', KEYS[1], 'record')
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'consumed')
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return {'ok', record}
end
redis.call('HSET', KEYS[1], 'replayed', '1')
return {'reused', redis.call('HGET', KEYS[1], 'grant_id') or ''}`;

/** Names the grant on the tombstone, unless the tombstone is gone; tells whether a replay came first. */
const ATTACH_GRANT = `
if redis.call('HGET', KEYS[1], 'state') ~= 'consumed' then return 'ok' end
redis.call('HSET', KEYS[1], 'grant_id', ARGV[1])
if redis.call('HGET', KEYS[1], 'replayed') == '1' then return 'replayed' end
return 'ok'`;

export class AuthorizationCodes {
  constructor(private readonly redis: Redis) {}

  /** Stores the login's outcome under a fresh code, valid for 60 s. */
  async issue(record: AuthorizationCodeRecord): Promise<string> {
    const code = randomBytes(32).toString("base64url");
    const key = keys.oauthCode(code);
    await this.redis.multi().hset(key, "state", "issued", "record", JSON.stringify(record)).expire(key, CODE_LIFETIME_SECONDS).exec();
    return code;
  }

  /**
   * Redeems a code, once. "reused" means the code was redeemed before: the
   * caller revokes `grantId` (if the first redemption got that far) and
   * answers invalid_grant.
   */
  async consume(code: string): Promise<ConsumeResult> {
    if (typeof code !== "string" || !CODE_FORMAT.test(code)) return { ok: false, reason: "unknown" };
    const [outcome, value] = (await this.redis.eval(CONSUME, 1, keys.oauthCode(code), String(CODE_TOMBSTONE_SECONDS))) as [string, string?];
    if (outcome === "ok") {
      try {
        return { ok: true, record: JSON.parse(value!) as AuthorizationCodeRecord };
      } catch {
        return { ok: false, reason: "unknown" };
      }
    }
    if (outcome === "reused") return { ok: false, reason: "reused", grantId: value || null };
    return { ok: false, reason: "unknown" };
  }

  /**
   * Records the grant a redeemed code started. A replay that arrived between
   * consume() and now could not name the grant yet, so this reports it:
   * "replayed" means the caller must revoke the grant it just created.
   */
  async attachGrant(code: string, grantId: string): Promise<"ok" | "replayed"> {
    if (!CODE_FORMAT.test(code)) return "ok";
    const outcome = await this.redis.eval(ATTACH_GRANT, 1, keys.oauthCode(code), grantId);
    return outcome === "replayed" ? "replayed" : "ok";
  }
}
