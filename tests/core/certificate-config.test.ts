/** The certificate manager's environment variables, read by parseConfig: defaults, values, and refusals naming the variable. */
import { describe, expect, test } from "bun:test";
import { LETS_ENCRYPT_DIRECTORY, LETS_ENCRYPT_STAGING } from "../../src/core/certificate-config";
import { ConfigError, parseConfig } from "../../src/core/config";
import { configProblems as problemsOf } from "../helpers/config-problems";


const certificates = (env: Record<string, string>) => parseConfig(env, "/srv").certificates;

describe("certificate settings", () => {
  test("defaults", () => {
    expect(LETS_ENCRYPT_DIRECTORY).toBe("https://acme-v02.api.letsencrypt.org/directory");
    expect(LETS_ENCRYPT_STAGING).toBe("https://acme-staging-v02.api.letsencrypt.org/directory");
    expect(certificates({})).toEqual({
      directoryUrl: LETS_ENCRYPT_DIRECTORY,
      stagingUrl: LETS_ENCRYPT_STAGING,
      allowedDirectoryUrls: [LETS_ENCRYPT_DIRECTORY, LETS_ENCRYPT_STAGING],
      pollMaxAttempts: 60,
      pollIntervalMs: 2_000,
      pollInitialWaitMs: 0,
      challengeSelfCheck: true,
      selfCheckTimeoutMs: 30_000,
      stepTimeoutMs: 60_000,
      issuanceTimeoutMs: 300_000,
      autoCertificates: true,
      renewalCheckIntervalMs: 86_400_000,
      renewalThresholdDays: 30,
      statusRetentionSeconds: 300,
      maxWorkers: 5,
      retryBaseMs: 60_000,
      retryMaxMs: 3_600_000,
      acmeInternalNames: false,
      localCaCertDays: 7,
      rsaKeySize: 2048,
    });
    expect(Object.isFrozen(parseConfig({}).certificates)).toBe(true);
  });

  test("reads every variable", () => {
    expect(
      certificates({
        ACME_DIRECTORY_URL: "https://ca.internal:14000/dir",
        ACME_STAGING_URL: " https://staging.ca.internal/directory ",
        ACME_ALLOWED_DIRECTORY_URLS: "https://other.ca.internal/dir, https://ca.internal:14000/dir",
        ACME_POLL_MAX_ATTEMPTS: "10",
        ACME_POLL_INTERVAL_SECONDS: "0.5",
        ACME_POLL_INITIAL_WAIT: "3",
        ACME_CHALLENGE_SELF_CHECK: "false",
        ACME_SELF_CHECK_TIMEOUT_SECONDS: "5",
        ACME_STEP_TIMEOUT_SECONDS: "0.5",
        ACME_ISSUANCE_TIMEOUT_SECONDS: "900",
        AUTO_CERTIFICATES: "no",
        RENEWAL_CHECK_INTERVAL: "3600",
        RENEWAL_THRESHOLD_DAYS: "14",
        CERT_STATUS_RETENTION_SECONDS: "86400",
        CERT_GEN_MAX_WORKERS: "2",
        CERT_RETRY_BASE_SECONDS: "30",
        CERT_RETRY_MAX_SECONDS: "600",
        ACME_INTERNAL_NAMES: "true",
        LOCAL_CA_CERT_DAYS: "30",
        RSA_KEY_SIZE: "4096",
      }),
    ).toEqual({
      directoryUrl: "https://ca.internal:14000/dir",
      stagingUrl: "https://staging.ca.internal/directory",
      allowedDirectoryUrls: ["https://ca.internal:14000/dir", "https://staging.ca.internal/directory", "https://other.ca.internal/dir"],
      pollMaxAttempts: 10,
      pollIntervalMs: 500,
      pollInitialWaitMs: 3_000,
      challengeSelfCheck: false,
      selfCheckTimeoutMs: 5_000,
      stepTimeoutMs: 500,
      issuanceTimeoutMs: 900_000,
      autoCertificates: false,
      renewalCheckIntervalMs: 3_600_000,
      renewalThresholdDays: 14,
      statusRetentionSeconds: 86_400,
      maxWorkers: 2,
      retryBaseMs: 30_000,
      retryMaxMs: 600_000,
      acmeInternalNames: true,
      localCaCertDays: 30,
      rsaKeySize: 4096,
    });
  });

  test("booleans take the usual spellings; an empty value is the default", () => {
    for (const [raw, value] of [["true", true], ["1", true], ["YES", true], ["False", false], ["0", false], ["no", false]] as const) {
      expect(certificates({ ACME_CHALLENGE_SELF_CHECK: raw, AUTO_CERTIFICATES: raw })).toMatchObject({ challengeSelfCheck: value, autoCertificates: value });
    }
    expect(certificates({ AUTO_CERTIFICATES: "", RSA_KEY_SIZE: "  ", ACME_DIRECTORY_URL: "" })).toMatchObject({ autoCertificates: true, rsaKeySize: 2048, directoryUrl: LETS_ENCRYPT_DIRECTORY });
  });

  test("ACME_ALLOWED_DIRECTORY_URLS: comma-separated https URLs, each checked, every one named when wrong", () => {
    expect(certificates({ ACME_ALLOWED_DIRECTORY_URLS: " , https://a.example/dir ,," }).allowedDirectoryUrls).toEqual([
      LETS_ENCRYPT_DIRECTORY,
      LETS_ENCRYPT_STAGING,
      "https://a.example/dir",
    ]);
    const problems = problemsOf({ ACME_ALLOWED_DIRECTORY_URLS: "http://plain.example/dir,https://ok.example/dir,not a url" });
    expect(problems).toEqual([
      'ACME_ALLOWED_DIRECTORY_URLS: "http://plain.example/dir" is not an https:// ACME directory URL',
      'ACME_ALLOWED_DIRECTORY_URLS: "not a url" is not an https:// ACME directory URL',
    ]);
  });

  test("RSA_KEY_SIZE accepts 2048, 3072 and 4096", () => {
    for (const size of [2048, 3072, 4096] as const) expect(certificates({ RSA_KEY_SIZE: String(size) }).rsaKeySize).toBe(size);
  });

  test("the range ends are accepted", () => {
    expect(
      certificates({
        ACME_POLL_MAX_ATTEMPTS: "1",
        ACME_POLL_INTERVAL_SECONDS: "60",
        ACME_POLL_INITIAL_WAIT: "0",
        ACME_SELF_CHECK_TIMEOUT_SECONDS: "600",
        ACME_STEP_TIMEOUT_SECONDS: "0.1",
        ACME_ISSUANCE_TIMEOUT_SECONDS: "1",
        RENEWAL_CHECK_INTERVAL: "1",
        RENEWAL_THRESHOLD_DAYS: "0",
        CERT_STATUS_RETENTION_SECONDS: "1",
        CERT_GEN_MAX_WORKERS: "100",
        CERT_RETRY_BASE_SECONDS: "86400",
      }),
    ).toMatchObject({
      pollMaxAttempts: 1,
      pollIntervalMs: 60_000,
      pollInitialWaitMs: 0,
      selfCheckTimeoutMs: 600_000,
      stepTimeoutMs: 100,
      issuanceTimeoutMs: 1_000,
      renewalCheckIntervalMs: 1_000,
      renewalThresholdDays: 0,
      statusRetentionSeconds: 1,
      maxWorkers: 100,
      retryBaseMs: 86_400_000,
    });
  });
});

describe("bad values are refused, each with one message naming its variable", () => {
  const cases: [string, string, RegExp][] = [
    ["ACME_DIRECTORY_URL", "http://acme.example.com/directory", /https:\/\//],
    ["ACME_DIRECTORY_URL", "not a url", /https:\/\//],
    ["ACME_STAGING_URL", "http://staging.example.com/directory", /https:\/\//],
    ["ACME_STAGING_URL", "ftp://staging.example.com/", /https:\/\//],
    ["ACME_POLL_MAX_ATTEMPTS", "0", /from 1 to 1000/],
    ["ACME_POLL_MAX_ATTEMPTS", "2.5", /whole/],
    ["ACME_POLL_MAX_ATTEMPTS", "ten", /attempts/],
    ["ACME_POLL_INTERVAL_SECONDS", "0", /seconds/],
    ["ACME_POLL_INTERVAL_SECONDS", "61", /seconds/],
    ["ACME_POLL_INTERVAL_SECONDS", "-1", /seconds/],
    ["ACME_POLL_INITIAL_WAIT", "301", /seconds/],
    ["ACME_POLL_INITIAL_WAIT", "1s", /seconds/],
    ["ACME_CHALLENGE_SELF_CHECK", "maybe", /true or false/],
    ["ACME_SELF_CHECK_TIMEOUT_SECONDS", "0", /seconds from 0.1 to 600/],
    ["ACME_SELF_CHECK_TIMEOUT_SECONDS", "30s", /seconds/],
    ["ACME_STEP_TIMEOUT_SECONDS", "3601", /seconds from 0.1 to 3600/],
    ["ACME_ISSUANCE_TIMEOUT_SECONDS", "0.5", /seconds from 1 to 86400/],
    ["AUTO_CERTIFICATES", "on", /true or false/],
    ["RENEWAL_CHECK_INTERVAL", "0", /seconds/],
    ["RENEWAL_CHECK_INTERVAL", "1d", /seconds/],
    ["RENEWAL_CHECK_INTERVAL", "2592001", /seconds/],
    ["RENEWAL_THRESHOLD_DAYS", "366", /days/],
    ["RENEWAL_THRESHOLD_DAYS", "-5", /days/],
    ["CERT_STATUS_RETENTION_SECONDS", "0", /seconds/],
    ["CERT_STATUS_RETENTION_SECONDS", "1.5", /whole seconds/],
    ["CERT_GEN_MAX_WORKERS", "0", /workers/],
    ["CERT_GEN_MAX_WORKERS", "101", /workers/],
    ["CERT_GEN_MAX_WORKERS", "many", /workers/],
    ["CERT_RETRY_BASE_SECONDS", "0", /seconds/],
    ["CERT_RETRY_BASE_SECONDS", "86401", /seconds/],
    ["CERT_RETRY_MAX_SECONDS", "0", /seconds/],
    ["CERT_RETRY_MAX_SECONDS", "604801", /seconds/],
    ["LOCAL_CA_CERT_DAYS", "0", /days/],
    ["LOCAL_CA_CERT_DAYS", "1.5", /days/],
    ["LOCAL_CA_CERT_DAYS", "366", /days/],
    ["RSA_KEY_SIZE", "1024", /RSA_KEY_SIZE/],
    ["RSA_KEY_SIZE", "3000", /2048, 3072 or 4096/],
    ["RSA_KEY_SIZE", "8192", /RSA_KEY_SIZE/],
    ["RSA_KEY_SIZE", "rsa", /RSA_KEY_SIZE/],
  ];
  for (const [name, value, expected] of cases) {
    test(`${name}=${value}`, () => {
      const problems = problemsOf({ [name]: value });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toStartWith(`${name}=${JSON.stringify(value)}: `);
      expect(problems[0]).toMatch(expected);
    });
  }

  test("every problem is reported at once, in the error's message too", () => {
    let error: unknown;
    try {
      parseConfig({ ACME_DIRECTORY_URL: "http://a/", RSA_KEY_SIZE: "1", CERT_GEN_MAX_WORKERS: "0", AUTO_CERTIFICATES: "perhaps" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems.map((p) => p.split("=")[0]).sort()).toEqual(["ACME_DIRECTORY_URL", "AUTO_CERTIFICATES", "CERT_GEN_MAX_WORKERS", "RSA_KEY_SIZE"]);
    for (const name of ["ACME_DIRECTORY_URL", "RSA_KEY_SIZE", "CERT_GEN_MAX_WORKERS", "AUTO_CERTIFICATES"]) expect(message).toContain(name);
  });
});
