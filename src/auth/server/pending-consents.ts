/**
 * Sign-ins waiting on the consent page (`oauth:consent_pending:{id}`): the
 * user is known and admitted, the client is waiting for its code. The id is
 * in the page's form; the browser that was shown the page holds a cookie
 * whose hash is kept here (login-binding.ts), so only that browser can
 * answer, and only once.
 */
import type { Redis } from "ioredis";
import { keys } from "../../storage/keys";
import type { UserIdentity } from "../identity";
import type { PendingLogin } from "./pending-logins";

/** What issuing the code needs once the user approves. */
export type ApprovedLogin = Pick<PendingLogin, "client_id" | "redirect_uri" | "client_state" | "code_challenge" | "scope" | "resources" | "proxy_hostname" | "issuer" | "flow_id">;

export interface PendingConsent {
  login: ApprovedLogin;
  identity: UserIdentity;
  /** SHA-256 of the secret in the consent cookie. */
  browser_binding_hash: string;
  created_at: number;
}

const ID = /^[A-Za-z0-9_-]{43}$/;

export class PendingConsents {
  constructor(
    private readonly redis: Redis,
    private readonly timeoutSeconds: number,
  ) {}

  /** Stores the sign-in under a new random id (256 bits) and returns the id. */
  async save(consent: PendingConsent): Promise<string> {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    await this.redis.set(keys.oauthConsentPending(id), JSON.stringify(consent), "EX", this.timeoutSeconds);
    return id;
  }

  /** The sign-in, removed in the same step so a second answer finds nothing. */
  async take(id: string): Promise<PendingConsent | null> {
    if (!ID.test(id)) return null;
    const raw = await this.redis.getdel(keys.oauthConsentPending(id));
    return raw === null ? null : (JSON.parse(raw) as PendingConsent);
  }
}
