/** The audit entry's pure parts: what a path writes to, secrets redacted, changes summarized. */
import { describe, expect, test } from "bun:test";
import { auditTarget, redact, REDACTED, summarizeChange } from "../../src/consumers/audit/entry";

describe("auditTarget", () => {
  const cases: [string, string, string | null][] = [
    ["/api/v1/proxy/targets", "proxy", null],
    ["/api/v1/proxy/targets/", "proxy", null],
    ["/api/v1/proxy/targets/a.example.com", "proxy", "a.example.com"],
    ["/api/v1/proxy/targets/a.example.com/auth", "proxy.auth", "a.example.com"],
    ["/api/v1/tokens", "token", null],
    ["/api/v1/tokens/email", "token", null],
    ["/api/v1/tokens/ci%20bot", "token", "ci bot"],
    ["/api/v1/routes/r-1", "route", "r-1"],
    ["/api/v1/certificates/multi-domain", "certificate", null],
    ["/api/v1/certificates/web", "certificate", "web"],
    ["/api/v1/oauth/clients/abc", "oauth.clients", "abc"],
    ["/api/v1/logs", "logs", null],
    ["/api/v1/services/external", "external_service", null],
    ["/api/v1/services/external/billing", "external_service", "billing"],
    ["/api/v1/tokens/%E0%A4%A", "token", "%E0%A4%A"],
  ];
  for (const [path, kind, id] of cases) test(path, () => expect(auditTarget(path)).toEqual({ kind, id }));
});

describe("redact", () => {
  test("secret fields and secret-looking values are replaced; the rest is kept", () => {
    const out = redact({
      name: "ci",
      token: "acm_abcdef",
      github_client_secret: "s3cr3t",
      private_key_pem: "-----BEGIN PRIVATE KEY-----\nMII…",
      fullchain_pem: "-----BEGIN CERTIFICATE-----",
      nested: { password: "hunter2", note: "acm_in_a_note", list: ["x", { refresh_token: "r" }] },
      owner_token_hash: "abc123",
      oauth_server_token_auth_methods: ["none"],
      empty_secret: null,
    }) as Record<string, any>;
    expect(out).toEqual({
      name: "ci",
      token: REDACTED,
      github_client_secret: REDACTED,
      private_key_pem: REDACTED,
      fullchain_pem: "-----BEGIN CERTIFICATE-----",
      nested: { password: REDACTED, note: REDACTED, list: ["x", { refresh_token: REDACTED }] },
      owner_token_hash: "abc123",
      oauth_server_token_auth_methods: ["none"],
      empty_secret: null,
    });
  });

  test("long strings are cut and deep objects bounded", () => {
    expect((redact("y".repeat(500)) as string).length).toBeLessThanOrEqual(201);
    expect(redact({ a: { b: { c: { d: { e: 1 } } } } })).toEqual({ a: { b: { c: { d: "…" } } } });
  });
});

describe("summarizeChange", () => {
  test("an update: only the fields that differ, old and new", () => {
    expect(summarizeChange({ a: 1, b: "x", token: "acm_1" }, { a: 1, b: "y", token: "acm_2" })).toEqual({
      changed: ["b", "token"],
      before: { b: "x", token: REDACTED },
      after: { b: "y", token: REDACTED },
    });
  });

  test("a create lists the set fields; a delete what was there", () => {
    expect(summarizeChange(null, { hostname: "h", cert_name: null })).toEqual({ changed: ["hostname"], before: null, after: { hostname: "h" } });
    expect(summarizeChange({ hostname: "h" }, null)).toEqual({ changed: ["hostname"], before: { hostname: "h" }, after: null });
    expect(summarizeChange(null, null)).toEqual({ changed: [], before: null, after: null });
  });
});
