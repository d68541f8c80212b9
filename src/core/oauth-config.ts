/**
 * OAuth authorization server settings (spec "OAuth Service Configuration",
 * "JWT Environment Variables", "Protected Resource Configuration"), parsed
 * apart from the listener settings. Pure: a reader in, settings out, problems
 * appended.
 */

import { wholeNumberReader } from "./whole-number-setting";

export type UpstreamKind = "github" | "oidc";

export interface GitHubSettings {
  /** GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET: the default GitHub OAuth app (a proxy may bring its own). */
  readonly clientId: string | null;
  readonly clientSecret: string | null;
  /** GITHUB_OAUTH_BASE_URL: where /login/oauth/authorize and /login/oauth/access_token live. */
  readonly oauthBaseUrl: string;
  /** GITHUB_API_BASE_URL: where /user and /user/emails live (GitHub Enterprise: https://host/api/v3). */
  readonly apiBaseUrl: string;
}

export interface OidcSettings {
  /** OIDC_ISSUER_URL: discovery at {issuer}/.well-known/openid-configuration. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string | null;
  /** OIDC_SCOPES: asked of the provider; always includes openid. */
  readonly scopes: readonly string[];
  /** OIDC_USERNAME_CLAIM: the claim that names the user for allowlists (default preferred_username). */
  readonly usernameClaim: string;
}

export interface OAuthSettings {
  /** OAUTH_ISSUER, else https://auth.{BASE_DOMAIN}: the `iss` of every token and the metadata's issuer. */
  readonly issuer: string;
  /** Hostnames the authorization server answers on out of the box: auth.{BASE_DOMAIN} and the issuer's host. */
  readonly authHostnames: readonly string[];
  readonly accessTokenLifetimeSeconds: number;
  readonly refreshTokenLifetimeSeconds: number;
  /** OAUTH_SESSION_TIMEOUT: how long a login may take, from /authorize to /callback. */
  readonly sessionTimeoutSeconds: number;
  /** OAUTH_CONSENT_LIFETIME: how long a user's approval of a client is remembered; 0 = ask at every sign-in. */
  readonly consentLifetimeSeconds: number;
  /** OAUTH_CLIENT_LIFETIME: registered clients expire after this; 0 = never. */
  readonly clientLifetimeSeconds: number;
  /**
   * The default user allowlist, for proxies that name none: OAUTH_ALLOWED_GITHUB_USERS,
   * or OAUTH_ADMIN_USERS when that is unset (002 "Per-Proxy User Allowlists"); ["*"] admits every user, [] nobody.
   */
  readonly allowedUsers: readonly string[];
  readonly mcpProtocolVersion: string;
  /** OAUTH_JWT_ALGORITHM: what new access tokens are signed with; tokens of either algorithm verify against their own key. */
  readonly jwtAlgorithm: JwtAlgorithm;
  /** OAUTH_JWT_PRIVATE_KEY_B64 decoded: a PEM private key for jwtAlgorithm (RSA, or EC P-256), or null to generate one and keep it in Redis. */
  readonly jwtPrivateKeyPem: string | null;
  /** MCP_MAX_RESOURCES_PER_TOKEN: resource indicators one token may carry. */
  readonly maxResourcesPerToken: number;
  /** MCP_RESOURCE_VALIDATION_STRICT: only resources this gateway serves (proxies, registered resources) may be asked for. */
  readonly resourceValidationStrict: boolean;
  /** OAUTH_REGISTRATION_RATE_LIMIT: client registrations per client IP per minute. */
  readonly registrationRateLimitPerMinute: number;
  /** OAUTH_UPSTREAM: which identity provider users log in with. */
  readonly upstream: UpstreamKind;
  readonly github: GitHubSettings;
  readonly oidc: OidcSettings | null;
  /** OAUTH_CLIENT_METADATA_DOCUMENTS: clients may use an https URL to a metadata document as their client_id. */
  readonly clientMetadataDocuments: boolean;
  /** OAUTH_CLIENT_METADATA_ALLOW_PRIVATE: fetch those documents from private/loopback addresses too (off: no SSRF into the LAN). */
  readonly clientMetadataAllowPrivate: boolean;
  /** OAUTH_SECRETS_KEY (base64, 32 bytes): encrypts per-proxy client secrets at rest; null = a key file in the data dir. */
  readonly secretsKey: Uint8Array | null;
}

export interface OAuthConfigReader {
  read(name: string): string | undefined;
  bool(name: string, fallback: boolean): boolean;
}

export const GITHUB_OAUTH_BASE_URL = "https://github.com";
export const GITHUB_API_BASE_URL = "https://api.github.com";
export const MCP_SCOPES = ["mcp:read", "mcp:write", "mcp:admin"] as const;
/** Access-token signing algorithms: RS256 (the default, understood by every client) and ES256 (same strength, much shorter tokens). */
export const JWT_ALGORITHMS = ["RS256", "ES256"] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

export const isJwtAlgorithm = (value: unknown): value is JwtAlgorithm => JWT_ALGORITHMS.includes(value as JwtAlgorithm);

/** What OAUTH_JWT_PRIVATE_KEY_B64 must hold for each algorithm; the type and size of the key itself are checked when it is loaded. */
const PRIVATE_KEY_PEM: Record<JwtAlgorithm, { header: RegExp; expected: string }> = {
  RS256: { header: /-----BEGIN (RSA )?PRIVATE KEY-----/, expected: "a base64-encoded PEM RSA private key (openssl genrsa 2048 | base64 -w0)" },
  ES256: {
    header: /-----BEGIN (EC )?PRIVATE KEY-----/,
    expected: "a base64-encoded PEM EC P-256 private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | base64 -w0)",
  },
};

export function parseOAuthSettings({ read, bool }: OAuthConfigReader, baseDomain: string, problems: string[]): OAuthSettings {
  const integer = wholeNumberReader(read, problems);

  // Base URLs may be plain http only on loopback (tests, a local GitHub Enterprise tunnel).
  const baseUrl = (name: string, fallback: string): string => {
    const raw = read(name) ?? fallback;
    const parsed = parseUrl(raw);
    if (!parsed || !(parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopback(parsed.hostname)))) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an https:// URL (http:// only for a loopback address)`);
      return fallback;
    }
    return raw.replace(/\/+$/, "");
  };

  const issuerRaw = read("OAUTH_ISSUER") ?? `https://auth.${baseDomain}`;
  const issuerUrl = parseUrl(issuerRaw);
  // RFC 8414 §2: an https URL with no query or fragment.
  if (!issuerUrl || issuerUrl.protocol !== "https:" || issuerUrl.search || issuerUrl.hash || issuerRaw.includes("#")) {
    problems.push(`OAUTH_ISSUER=${JSON.stringify(issuerRaw)}: expected an https:// URL without query or fragment`);
  }
  const issuer = issuerRaw.replace(/\/+$/, "");
  const authHostnames = [`auth.${baseDomain}`];
  if (issuerUrl && !authHostnames.includes(issuerUrl.hostname)) authHostnames.push(issuerUrl.hostname);

  const algorithmRaw = read("OAUTH_JWT_ALGORITHM") ?? "RS256";
  let jwtAlgorithm: JwtAlgorithm = "RS256";
  if (isJwtAlgorithm(algorithmRaw)) jwtAlgorithm = algorithmRaw;
  else problems.push(`OAUTH_JWT_ALGORITHM=${JSON.stringify(algorithmRaw)}: expected ${JWT_ALGORITHMS.join(" or ")}`);

  let jwtPrivateKeyPem: string | null = null;
  const keyB64 = read("OAUTH_JWT_PRIVATE_KEY_B64");
  if (keyB64 !== undefined) {
    const pem = Buffer.from(keyB64, "base64").toString("utf8");
    const { header, expected } = PRIVATE_KEY_PEM[jwtAlgorithm];
    if (!header.test(pem)) problems.push(`OAUTH_JWT_PRIVATE_KEY_B64: expected ${expected} for OAUTH_JWT_ALGORITHM=${jwtAlgorithm}`);
    else jwtPrivateKeyPem = pem;
  }

  const github: GitHubSettings = {
    clientId: read("GITHUB_CLIENT_ID") ?? null,
    clientSecret: read("GITHUB_CLIENT_SECRET") ?? null,
    oauthBaseUrl: baseUrl("GITHUB_OAUTH_BASE_URL", GITHUB_OAUTH_BASE_URL),
    apiBaseUrl: baseUrl("GITHUB_API_BASE_URL", GITHUB_API_BASE_URL),
  };
  if ((github.clientId === null) !== (github.clientSecret === null)) {
    problems.push("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET: set both or neither");
  }

  let oidc: OidcSettings | null = null;
  const oidcIssuer = read("OIDC_ISSUER_URL");
  const oidcClientId = read("OIDC_CLIENT_ID");
  if (oidcIssuer !== undefined || oidcClientId !== undefined) {
    if (oidcIssuer === undefined || oidcClientId === undefined) problems.push("OIDC_ISSUER_URL and OIDC_CLIENT_ID: set both to use an OIDC provider");
    else {
      const scopes = (read("OIDC_SCOPES") ?? "openid profile email").split(/[\s,]+/).filter(Boolean);
      if (!scopes.includes("openid")) scopes.unshift("openid");
      oidc = {
        issuer: baseUrl("OIDC_ISSUER_URL", oidcIssuer),
        clientId: oidcClientId,
        clientSecret: read("OIDC_CLIENT_SECRET") ?? null,
        scopes,
        usernameClaim: read("OIDC_USERNAME_CLAIM") ?? "preferred_username",
      };
    }
  }

  const upstreamRaw = read("OAUTH_UPSTREAM") ?? (oidc && !github.clientId ? "oidc" : "github");
  let upstream: UpstreamKind = "github";
  if (upstreamRaw === "github" || upstreamRaw === "oidc") upstream = upstreamRaw;
  else problems.push(`OAUTH_UPSTREAM=${JSON.stringify(upstreamRaw)}: expected github or oidc`);
  if (upstream === "oidc" && !oidc) problems.push("OAUTH_UPSTREAM=oidc: set OIDC_ISSUER_URL and OIDC_CLIENT_ID");

  let secretsKey: Uint8Array | null = null;
  const secretsKeyRaw = read("OAUTH_SECRETS_KEY");
  if (secretsKeyRaw !== undefined) {
    const decoded = Buffer.from(secretsKeyRaw, "base64");
    if (decoded.length !== 32) problems.push("OAUTH_SECRETS_KEY: expected 32 random bytes, base64-encoded (openssl rand -base64 32)");
    else secretsKey = new Uint8Array(decoded);
  }

  return {
    issuer,
    authHostnames,
    accessTokenLifetimeSeconds: integer("OAUTH_ACCESS_TOKEN_LIFETIME", 1800, 60, 86_400, "seconds"),
    refreshTokenLifetimeSeconds: integer("OAUTH_REFRESH_TOKEN_LIFETIME", 31_536_000, 300, 63_072_000, "seconds"),
    sessionTimeoutSeconds: integer("OAUTH_SESSION_TIMEOUT", 300, 30, 3600, "seconds"),
    clientLifetimeSeconds: integer("OAUTH_CLIENT_LIFETIME", 7_776_000, 0, 315_360_000, "seconds"),
    consentLifetimeSeconds: integer("OAUTH_CONSENT_LIFETIME", 7_776_000, 0, 315_360_000, "seconds"),
    allowedUsers: parseUserList(read("OAUTH_ALLOWED_GITHUB_USERS") ?? read("OAUTH_ADMIN_USERS") ?? ""),
    mcpProtocolVersion: read("OAUTH_MCP_PROTOCOL_VERSION") ?? "2025-06-18",
    jwtAlgorithm,
    jwtPrivateKeyPem,
    maxResourcesPerToken: integer("MCP_MAX_RESOURCES_PER_TOKEN", 5, 1, 100, "resources"),
    resourceValidationStrict: bool("MCP_RESOURCE_VALIDATION_STRICT", true),
    registrationRateLimitPerMinute: integer("OAUTH_REGISTRATION_RATE_LIMIT", 20, 1, 100_000, "registrations per minute"),
    clientMetadataDocuments: bool("OAUTH_CLIENT_METADATA_DOCUMENTS", true),
    clientMetadataAllowPrivate: bool("OAUTH_CLIENT_METADATA_ALLOW_PRIVATE", false),
    upstream,
    github,
    oidc,
    secretsKey,
  };
}

/** "alice, bob" → ["alice", "bob"]; "*" → ["*"]; GitHub logins compare case-insensitively, so they are kept lower-case. */
export function parseUserList(raw: string): string[] {
  return [...new Set(raw.split(",").map((u) => u.trim().toLowerCase()).filter(Boolean))];
}

function parseUrl(raw: string): URL | null {
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
