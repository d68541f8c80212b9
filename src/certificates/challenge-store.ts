/**
 * HTTP-01 key authorizations in Redis (`acme:challenge:{token}`), so whichever
 * node the CA reaches can answer it. Entries expire on their own in case the
 * issuing node dies before it removes them.
 */
import type { Redis } from "ioredis";
import { keys } from "../storage/keys";

const CHALLENGE_TTL_SECONDS = 3600;
/** RFC 8555 §8.3: the token is base64url; anything else is not ours to look up. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export class ChallengeStore {
  constructor(private readonly redis: Redis) {}

  async put(token: string, keyAuthorization: string): Promise<void> {
    await this.redis.set(keys.acmeChallenge(token), keyAuthorization, "EX", CHALLENGE_TTL_SECONDS);
  }

  async remove(token: string): Promise<void> {
    await this.redis.del(keys.acmeChallenge(token));
  }

  /** The key authorization for `token`, or null (also for a token that is not base64url). */
  async answer(token: string): Promise<string | null> {
    if (!TOKEN.test(token)) return null;
    return this.redis.get(keys.acmeChallenge(token));
  }
}
