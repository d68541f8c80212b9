/**
 * Certificate manager settings (spec "ACME Configuration", "Certificate
 * Management Configuration"), parsed apart from the listener settings so each
 * stays readable. Pure: a reader in, settings out, problems appended.
 */

export interface CertificateSettings {
  /** ACME_DIRECTORY_URL: the production directory. */
  readonly directoryUrl: string;
  /** ACME_STAGING_URL: used when a request asks for `staging`. */
  readonly stagingUrl: string;
  /**
   * The directories a request may name in `acme_directory_url`: ACME_DIRECTORY_URL,
   * ACME_STAGING_URL and ACME_ALLOWED_DIRECTORY_URLS, in that order, without repeats.
   * Anything else is refused, so a token holder cannot make the gateway call an address of their choosing.
   */
  readonly allowedDirectoryUrls: readonly string[];
  /** ACME_POLL_MAX_ATTEMPTS / ACME_POLL_INTERVAL_SECONDS: how long to wait for a challenge, order or authorization to settle. */
  readonly pollMaxAttempts: number;
  readonly pollIntervalMs: number;
  /** ACME_POLL_INITIAL_WAIT: pause after telling the CA a challenge is ready, before the first poll. */
  readonly pollInitialWaitMs: number;
  /** ACME_CHALLENGE_SELF_CHECK: fetch our own challenge URL before asking the CA to (catches DNS/firewall mistakes early). */
  readonly challengeSelfCheck: boolean;
  /** ACME_SELF_CHECK_TIMEOUT_SECONDS: how long the self-check of one name may take (DNS, connect, answer). */
  readonly selfCheckTimeoutMs: number;
  /** ACME_STEP_TIMEOUT_SECONDS: how long one exchange with the CA may take (account, order, authorizations, finalize); waits for the CA also get the polls' time. */
  readonly stepTimeoutMs: number;
  /** ACME_ISSUANCE_TIMEOUT_SECONDS: how long a whole issuance may take, whatever step it is in. */
  readonly issuanceTimeoutMs: number;
  /** AUTO_CERTIFICATES: a new HTTPS proxy without a covering certificate gets one requested for it. */
  readonly autoCertificates: boolean;
  /** RENEWAL_CHECK_INTERVAL: between renewal sweeps. */
  readonly renewalCheckIntervalMs: number;
  /** RENEWAL_THRESHOLD_DAYS: renew once this close to expiry. */
  readonly renewalThresholdDays: number;
  /** CERT_STATUS_RETENTION_SECONDS: how long a finished status stays readable. */
  readonly statusRetentionSeconds: number;
  /** CERT_GEN_MAX_WORKERS: issuances this node runs at once. */
  readonly maxWorkers: number;
  /** CERT_RETRY_BASE_SECONDS: first delay before a failed issuance or renewal is tried again (doubling, capped at retryMaxMs). */
  readonly retryBaseMs: number;
  /** CERT_RETRY_MAX_SECONDS: the longest wait between two attempts. */
  readonly retryMaxMs: number;
  /** ACME_INTERNAL_NAMES: internal names (internal-names.ts) go to the ACME directory too, for a private ACME CA that issues for them; off: to the local CA. */
  readonly acmeInternalNames: boolean;
  /** LOCAL_CA_CERT_DAYS: lifetime of a certificate the local CA signs. */
  readonly localCaCertDays: number;
  /** RSA_KEY_SIZE: for new RSA certificate keys. */
  readonly rsaKeySize: 2048 | 3072 | 4096;
}

export const LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory";
export const LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

export interface ConfigReader {
  read(name: string): string | undefined;
  bool(name: string, fallback: boolean): boolean;
}

export function parseCertificateSettings({ read, bool }: ConfigReader, problems: string[]): CertificateSettings {
  const url = (name: string, fallback: string): string => {
    const raw = read(name) ?? fallback;
    if (!isHttpsUrl(raw)) problems.push(`${name}=${JSON.stringify(raw)}: expected an https:// ACME directory URL`);
    return raw;
  };

  const number = (name: string, fallback: number, min: number, max: number, unit: string, integer = true): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || (integer && !Number.isInteger(value)) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected ${integer ? "whole " : ""}${unit} from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };

  const rsaKeySize = number("RSA_KEY_SIZE", 2048, 2048, 4096, "bits");
  if (![2048, 3072, 4096].includes(rsaKeySize)) problems.push(`RSA_KEY_SIZE=${JSON.stringify(read("RSA_KEY_SIZE"))}: expected 2048, 3072 or 4096`);

  const directoryUrl = url("ACME_DIRECTORY_URL", LETS_ENCRYPT_DIRECTORY);
  const stagingUrl = url("ACME_STAGING_URL", LETS_ENCRYPT_STAGING);
  const listed = (read("ACME_ALLOWED_DIRECTORY_URLS") ?? "").split(",").map((u) => u.trim()).filter((u) => u !== "");
  for (const entry of listed) if (!isHttpsUrl(entry)) problems.push(`ACME_ALLOWED_DIRECTORY_URLS: ${JSON.stringify(entry)} is not an https:// ACME directory URL`);

  return {
    directoryUrl,
    stagingUrl,
    allowedDirectoryUrls: [...new Set([directoryUrl, stagingUrl, ...listed.filter(isHttpsUrl)])],
    pollMaxAttempts: number("ACME_POLL_MAX_ATTEMPTS", 60, 1, 1000, "attempts"),
    pollIntervalMs: number("ACME_POLL_INTERVAL_SECONDS", 2, 0.05, 60, "seconds", false) * 1000,
    pollInitialWaitMs: number("ACME_POLL_INITIAL_WAIT", 0, 0, 300, "seconds", false) * 1000,
    challengeSelfCheck: bool("ACME_CHALLENGE_SELF_CHECK", true),
    selfCheckTimeoutMs: number("ACME_SELF_CHECK_TIMEOUT_SECONDS", 30, 0.1, 600, "seconds", false) * 1000,
    stepTimeoutMs: number("ACME_STEP_TIMEOUT_SECONDS", 60, 0.1, 3600, "seconds", false) * 1000,
    issuanceTimeoutMs: number("ACME_ISSUANCE_TIMEOUT_SECONDS", 300, 1, 86_400, "seconds", false) * 1000,
    autoCertificates: bool("AUTO_CERTIFICATES", true),
    renewalCheckIntervalMs: number("RENEWAL_CHECK_INTERVAL", 86_400, 1, 2_592_000, "seconds", false) * 1000,
    renewalThresholdDays: number("RENEWAL_THRESHOLD_DAYS", 30, 0, 365, "days", false),
    statusRetentionSeconds: number("CERT_STATUS_RETENTION_SECONDS", 300, 1, 2_592_000, "seconds"),
    maxWorkers: number("CERT_GEN_MAX_WORKERS", 5, 1, 100, "workers"),
    retryBaseMs: number("CERT_RETRY_BASE_SECONDS", 60, 0.1, 86_400, "seconds", false) * 1000,
    retryMaxMs: number("CERT_RETRY_MAX_SECONDS", 3_600, 0.1, 604_800, "seconds", false) * 1000,
    acmeInternalNames: bool("ACME_INTERNAL_NAMES", false),
    localCaCertDays: number("LOCAL_CA_CERT_DAYS", 7, 1, 365, "days"),
    rsaKeySize: rsaKeySize as CertificateSettings["rsaKeySize"],
  };
}

/** RFC 8555 §6.1: ACME runs over HTTPS only. */
function isHttpsUrl(raw: string): boolean {
  try {
    return new URL(raw).protocol === "https:";
  } catch {
    return false;
  }
}
