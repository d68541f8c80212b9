/**
 * Who logged in, as the upstream identity provider (GitHub or OIDC) told us.
 * This is what tokens and allowlists are made from.
 */
export interface UserIdentity {
  /** Stable subject for tokens: `github-<numeric id>` or `oidc-<sub>`. */
  readonly sub: string;
  readonly provider: "github" | "oidc";
  /** The login name allowlists compare against, lower-case (GitHub `login`, or OIDC_USERNAME_CLAIM). */
  readonly username: string;
  readonly name: string | null;
  /** The primary verified email, if the provider disclosed one. */
  readonly email: string | null;
  /** Every verified email (for `*@domain` allowlists). */
  readonly emails: readonly string[];
}

/** An allowlist admits the user: ["*"] admits everyone, [] nobody; logins compare case-insensitively. */
export function userAllowed(allowlist: readonly string[], username: string): boolean {
  const name = username.toLowerCase();
  return allowlist.some((entry) => entry === "*" || entry.toLowerCase() === name);
}
