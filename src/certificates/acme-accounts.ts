/**
 * ACME account keys, one per (email, directory), in Redis so every node uses
 * the same account and a restart does not register a new one.
 */
import { createHash } from "node:crypto";
import * as acme from "acme-client";
import type { Redis } from "ioredis";
import { keys } from "../storage/keys";

interface StoredAccount {
  email: string | null;
  directory_url: string;
  /** Secret. */
  key_pem: string;
  created_at: string;
}

export class AcmeAccounts {
  constructor(private readonly redis: Redis) {}

  /** The account key for this pair, made and stored on first use (the first writer wins a race). */
  async keyFor(email: string | null, directoryUrl: string): Promise<string> {
    const key = keys.acmeAccount(accountId(email, directoryUrl));
    const existing = await this.redis.get(key);
    if (existing) return (JSON.parse(existing) as StoredAccount).key_pem;
    const created: StoredAccount = {
      email,
      directory_url: directoryUrl,
      key_pem: (await acme.crypto.createPrivateEcdsaKey("P-256")).toString(),
      created_at: new Date().toISOString(),
    };
    if (await this.redis.set(key, JSON.stringify(created), "NX")) return created.key_pem;
    return (JSON.parse((await this.redis.get(key))!) as StoredAccount).key_pem;
  }
}

export function accountId(email: string | null, directoryUrl: string): string {
  return createHash("sha256").update(`${email ?? ""}\n${directoryUrl}`).digest("hex").slice(0, 32);
}
