/**
 * Remembered consent (`oauth:consent:{sub}:{sha256(client_id)}`): which
 * scopes and resources a user approved for one client, so the next sign-in
 * of that client asks nothing new. Asking for more (a step-up to another
 * scope, another resource) shows the consent page again. Each approval keeps
 * the union and starts the lifetime (OAUTH_CONSENT_LIFETIME) anew.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { keys } from "../../storage/keys";
import { splitScope } from "../scopes/scope-syntax";

export interface ConsentRecord {
  client_id: string;
  scopes: string[];
  resources: string[];
  /** Seconds since the epoch. */
  approved_at: number;
}

/** What one sign-in asks of the user. */
export interface ConsentRequest {
  readonly sub: string;
  readonly clientId: string;
  /** Space-separated, as granted at /authorize. */
  readonly scope: string;
  readonly resources: readonly string[];
}

export class Consents {
  constructor(
    private readonly redis: Redis,
    /** 0: nothing is remembered, every sign-in asks. */
    private readonly lifetimeSeconds: number,
  ) {}

  /** True when the user already approved everything this sign-in asks for. */
  async covers(request: ConsentRequest): Promise<boolean> {
    if (this.lifetimeSeconds === 0) return false;
    const stored = await this.read(request);
    if (!stored) return false;
    const scopes = new Set(stored.scopes);
    const resources = new Set(stored.resources);
    return splitScope(request.scope).every((s) => scopes.has(s)) && request.resources.every((r) => resources.has(r));
  }

  /** Remembers an approval, added to what the user approved before. */
  async remember(request: ConsentRequest): Promise<void> {
    if (this.lifetimeSeconds === 0) return;
    const stored = await this.read(request);
    const record: ConsentRecord = {
      client_id: request.clientId,
      scopes: [...new Set([...(stored?.scopes ?? []), ...splitScope(request.scope)])],
      resources: [...new Set([...(stored?.resources ?? []), ...request.resources])],
      approved_at: Math.floor(Date.now() / 1000),
    };
    await this.redis.set(keyOf(request), JSON.stringify(record), "EX", this.lifetimeSeconds);
  }

  private async read(request: ConsentRequest): Promise<ConsentRecord | null> {
    const raw = await this.redis.get(keyOf(request));
    return raw === null ? null : (JSON.parse(raw) as ConsentRecord);
  }
}

/** client_ids may be 2 KB URLs: the key holds their hash. */
function keyOf(request: ConsentRequest): string {
  return keys.oauthConsent(request.sub, createHash("sha256").update(request.clientId).digest("hex"));
}
