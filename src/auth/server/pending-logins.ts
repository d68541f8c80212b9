/**
 * Logins in progress (`oauth:state:{state}`): what the client asked for at
 * /authorize, kept until the identity provider sends the browser back to
 * /callback. The `state` sent upstream is ours, random and single-use; the
 * client's own `state` travels inside the record.
 */
import type { Redis } from "ioredis";
import { keys } from "../../storage/keys";

export interface PendingLogin {
  client_id: string;
  redirect_uri: string;
  /** The client's state, echoed back to it unchanged (null when it sent none). */
  client_state: string | null;
  code_challenge: string;
  scope: string;
  resources: string[];
  /** The proxy the login is for: per-proxy GitHub app and user allowlist. */
  proxy_hostname: string | null;
  /** The issuer the client is talking to (a proxy may have its own). */
  issuer: string;
  /** Where the identity provider sends the browser back to. */
  callback_uri: string;
  /** The identity provider's per-login secrets (PKCE verifier, nonce). */
  upstream_secrets: Record<string, string>;
  /** SHA-256 of the secret in the browser's binding cookie (login-binding.ts). */
  browser_binding_hash: string;
  created_at: number;
  /** The OAuth flow trace's id for this sign-in (absent on logins started before tracing existed). */
  flow_id?: string;
}

export class PendingLogins {
  constructor(
    private readonly redis: Redis,
    private readonly timeoutSeconds: number,
  ) {}

  /** A fresh state: 256 random bits, so it can neither be guessed nor collide. */
  static newState(): string {
    return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  }

  async save(state: string, login: PendingLogin): Promise<void> {
    await this.redis.set(keys.oauthState(state), JSON.stringify(login), "EX", this.timeoutSeconds);
  }

  /** The login for this state, removed in the same step so a replayed callback finds nothing. */
  async take(state: string): Promise<PendingLogin | null> {
    if (!/^[A-Za-z0-9_-]{20,100}$/.test(state)) return null;
    const raw = await this.redis.getdel(keys.oauthState(state));
    return raw === null ? null : (JSON.parse(raw) as PendingLogin);
  }

  /** Logins in progress, for the admin API. */
  async count(): Promise<number> {
    let cursor = "0";
    let total = 0;
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", keys.oauthState("*"), "COUNT", 500);
      cursor = next;
      total += batch.length;
    } while (cursor !== "0");
    return total;
  }
}
