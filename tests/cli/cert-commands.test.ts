/**
 * `portcullis cert …` and the certificate flags of `portcullis proxy …`: the
 * pure parts (request bodies, columns, problem lines), the whole program
 * against a scripted HTTP server (--wait), against the real gateway API
 * (self-signed certificates: no CA needed), and the just recipes' command lines.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { ApiClient } from "../../src/cli/api-client";
import { CliError } from "../../src/cli/cli-error";
import {
  CERTIFICATE_COLUMNS,
  certificateIssuer,
  createRequest,
  describeProblem,
  EMPTY_CERTIFICATES_HINT,
  failureMessage,
  parseSeconds,
  progressLine,
  renderCertificate,
  renderStatus,
  statusPath,
  waitForIssuance,
  waitLimits,
  WAIT_TIMEOUT_EXIT,
  type CertificateDetail,
  type CertificateView,
  type IssuanceStatus,
} from "../../src/cli/commands/cert";
import { proxyCertificateBody, proxyDeleteQuery } from "../../src/cli/commands/proxy";
import { renderList } from "../../src/cli/output";
import { expiresIn, timeUntil } from "../../src/cli/relative-time";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { closedPort } from "../helpers/ports";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { cliSession, runProgram as runCli, type ProgramRun } from "../helpers/cli-program";
import { justBinary, justDryRun } from "../helpers/just-dry-run";

const HOME = tempDir("home");
const NOW = Date.parse("2026-01-10T12:00:00Z");

type Run = ProgramRun;
const runProgram = (apiUrl: string, token: string | undefined, args: string[]): Promise<Run> => runCli(apiUrl, token, args, HOME);

const view = (overrides: Partial<CertificateDetail> = {}): CertificateDetail => ({
  cert_name: "app",
  domains: ["app.example.com", "www.example.com"],
  email: "ops@example.com",
  acme_directory_url: "https://acme-v02.api.letsencrypt.org/directory",
  status: "ready",
  expires_at: new Date(Date.now() + 89.5 * 86_400_000).toISOString(),
  owner_token_hash: null,
  ...overrides,
});

const PROBLEM = {
  type: "urn:ietf:params:acme:error:rejectedIdentifier",
  detail: "Error creating new order :: Cannot issue for \"a.invalid\"",
  status: 400,
  subproblems: [
    { type: "urn:ietf:params:acme:error:dns", detail: "NXDOMAIN looking up A", identifier: { type: "dns", value: "a.invalid" } },
  ],
};

describe("createRequest", () => {
  test("one domain goes to /certificates/, several to /multi-domain; only the flags given are sent", () => {
    expect(createRequest("app", ["app.example.com"], {})).toEqual({
      path: "/api/v1/certificates/",
      body: { cert_name: "app", domain: "app.example.com" },
    });
    expect(createRequest("app", ["a.example.com", "b.example.com"], { staging: true, email: "ops@example.com", keyType: "ecdsa" })).toEqual({
      path: "/api/v1/certificates/multi-domain",
      body: { cert_name: "app", domains: ["a.example.com", "b.example.com"], staging: true, email: "ops@example.com", key_type: "ecdsa" },
    });
    expect(createRequest("self", ["x.test"], { selfSigned: true, staging: false }).body).toEqual({ cert_name: "self", domain: "x.test", acme: false, staging: false });
    expect(createRequest("ca", ["x.test"], { directory: "https://ca.test/dir" }).body).toEqual({ cert_name: "ca", domain: "x.test", acme_directory_url: "https://ca.test/dir" });
  });

  test("a domain given twice counts once, so two spellings of one domain stay a single-domain request", () => {
    expect(createRequest("app", ["App.example.com", "app.example.com "], {})).toEqual({
      path: "/api/v1/certificates/",
      body: { cert_name: "app", domain: "App.example.com" },
    });
  });

  test("contradictions and bad values stop before any request", () => {
    expect(() => createRequest("x", ["x.test"], { selfSigned: true, staging: true })).toThrow(/--staging .* --self-signed/);
    expect(() => createRequest("x", ["x.test"], { keyType: "dsa" })).toThrow('--key-type "dsa": expected one of rsa, ecdsa');
    expect(() => createRequest("x", ["x.test"], { directory: "https://ca.test/dir", staging: true })).toThrow(/--directory .* --staging/);
    expect(() => createRequest("x", ["x.test"], { directory: "https://ca.test/dir", selfSigned: true })).toThrow(/--directory .* --self-signed/);
    expect(() => createRequest("x", [" "], {})).toThrow(CliError);
    expect(() => createRequest("x", [], {})).toThrow("give at least one domain");
  });
});

describe("small parsers", () => {
  test("parseSeconds: positive numbers, decimals allowed", () => {
    expect(parseSeconds("--timeout", "600")).toBe(600);
    expect(parseSeconds("--interval", "0.5")).toBe(0.5);
    for (const bad of ["0", "-1", "abc", "", "1e3", "5s"]) {
      expect(() => parseSeconds("--timeout", bad)).toThrow(`--timeout ${JSON.stringify(bad)}: expected a number of seconds above 0`);
    }
  });

  test("waitLimits: only with --wait, defaults 600 s and 2 s", () => {
    expect(waitLimits({})).toBeUndefined();
    expect(waitLimits({ wait: true })).toEqual({ timeoutMs: 600_000, intervalMs: 2_000 });
    expect(waitLimits({ wait: true, timeout: "5", interval: "0.1" })).toEqual({ timeoutMs: 5_000, intervalMs: 100 });
  });

  test("statusPath: the API's status_url (path or full URL), else the usual path", () => {
    expect(statusPath({ status_url: "/api/v1/certificates/a/status" }, "a")).toBe("/api/v1/certificates/a/status");
    expect(statusPath({ status_url: "http://gw:9000/api/v1/certificates/a/status?x=1" }, "a")).toBe("/api/v1/certificates/a/status?x=1");
    expect(statusPath({}, "a b")).toBe("/api/v1/certificates/a%20b/status");
  });

  test("proxy certificate flags: sent only when given; --force only with --delete-cert", () => {
    expect(proxyCertificateBody({})).toEqual({});
    expect(proxyCertificateBody({ staging: true, email: "ops@example.com" })).toEqual({ staging: true, cert_email: "ops@example.com" });
    expect(proxyCertificateBody({ staging: false })).toEqual({ staging: false });
    expect(proxyDeleteQuery({})).toBe("");
    expect(proxyDeleteQuery({ deleteCert: true })).toBe("?delete_cert=true");
    expect(proxyDeleteQuery({ deleteCert: true, force: true })).toBe("?delete_cert=true&force=true");
    expect(() => proxyDeleteQuery({ force: true })).toThrow("proxy delete: --force is for --delete-cert");
  });
});

describe("expiry and problems in words", () => {
  const cases: [string | null, string][] = [
    [null, "—"],
    ["2026-01-10T12:00:30Z", "in <1m"],
    ["2026-01-10T12:45:00Z", "in 45m"],
    ["2026-01-10T17:00:00Z", "in 5h"],
    ["2026-04-10T12:00:00Z", "in 90d"],
    ["2027-01-10T12:00:00Z", "in 365d"],
    ["2036-01-08T00:00:00Z", "2036-01-08"],
    ["2026-01-07T12:00:00Z", "expired 3d ago"],
    ["garbage", "garbage"],
  ];
  for (const [input, expected] of cases) test(`expiresIn ${input} → ${expected}`, () => expect(expiresIn(input, NOW)).toBe(expected));

  test("timeUntil: the same ahead, relativeTime's words once past", () => {
    expect(timeUntil("2026-01-10T17:00:00Z", NOW)).toBe("in 5h");
    expect(timeUntil("2026-01-07T12:00:00Z", NOW)).toBe("3d ago");
    expect(timeUntil(null, NOW)).toBe("—");
  });

  test("describeProblem: ACME type without its namespace, detail, subproblems per identifier; other objects as JSON", () => {
    expect(describeProblem(PROBLEM)).toBe(
      'rejectedIdentifier: Error creating new order :: Cannot issue for "a.invalid" (a.invalid: dns: NXDOMAIN looking up A)',
    );
    expect(describeProblem({ detail: "connect ECONNREFUSED 127.0.0.1:1" })).toBe("connect ECONNREFUSED 127.0.0.1:1");
    expect(describeProblem({ code: 7 })).toBe('{"code":7}');
    expect(describeProblem(null)).toBe("");
  });

  test("progress and failure lines", () => {
    const status: IssuanceStatus = { cert_name: "a", status: "issuing", message: "validating", error: null, attempts: 1, updated_at: null };
    expect(progressLine(status)).toBe("issuing: validating");
    expect(progressLine({ ...status, attempts: 2, message: null })).toBe("issuing (attempt 2)");
    expect(failureMessage({ ...status, status: "failed", message: "the CA refused the order", error: PROBLEM })).toBe(
      'certificate "a" failed: the CA refused the order; rejectedIdentifier: Error creating new order :: Cannot issue for "a.invalid" (a.invalid: dns: NXDOMAIN looking up A)',
    );
    expect(failureMessage({ ...status, status: "failed", message: null })).toBe('certificate "a" failed');
  });
});

describe("rendering", () => {
  test("list columns: domains joined, expiry ahead, issuer host or self-signed; csv raw", () => {
    const rows: CertificateView[] = [view(), view({ cert_name: "local", domains: ["x.test"], acme_directory_url: null, status: "ready" })];
    expect(certificateIssuer(rows[0]!)).toBe("acme-v02.api.letsencrypt.org");
    expect(certificateIssuer(rows[1]!)).toBe("self-signed");
    const table = renderList(rows, CERTIFICATE_COLUMNS, "table", "");
    expect(table).toMatch(/│ Name\s+│ Domains\s+│ Status\s+│ Expires\s+│ Issuer\s+│/);
    expect(table).toMatch(/│ app\s+│ app\.example\.com, www\.example\.com\s+│ ready\s+│ in 89d\s+│ acme-v02\.api\.letsencrypt\.org\s+│/);
    expect(table).toMatch(/│ local\s+│ x\.test\s+│ ready\s+│ in 89d\s+│ self-signed\s+│/);
    const csv = renderList(rows, CERTIFICATE_COLUMNS, "csv", "").split("\n");
    expect(csv[0]).toBe("Name,Domains,Status,Expires,Issuer");
    expect(csv[1]).toBe(`app,"app.example.com, www.example.com",ready,${rows[0]!.expires_at},acme-v02.api.letsencrypt.org`);
  });

  test("show: the private key only when asked for, whatever the server sent", () => {
    const cert = view({ fullchain_pem: "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n", private_key_pem: "-----BEGIN PRIVATE KEY-----\nKKK\n-----END PRIVATE KEY-----\n" });
    for (const format of ["table", "json", "yaml", "csv"] as const) {
      expect(renderCertificate(cert, format)).not.toContain("PRIVATE KEY");
      expect(renderCertificate(cert, format)).toContain("BEGIN CERTIFICATE");
      expect(renderCertificate(cert, format, true)).toContain("BEGIN PRIVATE KEY");
    }
    const table = renderCertificate(cert, "table", true);
    expect(table).toMatch(/│ domains\s+│ app\.example\.com, www\.example\.com/);
    expect(table).toMatch(/│ expires_at\s+│ in 89d/);
    expect(table).toMatch(/│ issuer\s+│ acme-v02\.api\.letsencrypt\.org/);
    // The PEM blocks follow the table as they are, ready to copy.
    expect(table).toContain("\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nKKK\n-----END PRIVATE KEY-----");
    expect(JSON.parse(renderCertificate(cert, "json"))).toEqual({ ...cert, private_key_pem: undefined } as never);
  });

  test("status: domains and the problem as one line each in a table, a retry ahead; verbatim in json", () => {
    const status: IssuanceStatus = {
      cert_name: "a",
      status: "failed",
      operation: "renew",
      domains: ["a.example.com", "b.example.com"],
      message: "renewal failed",
      error: PROBLEM,
      attempts: 2,
      retry_at: new Date(Date.now() + 150_000).toISOString(),
      updated_at: new Date().toISOString(),
    };
    const table = renderStatus(status, "table");
    expect(table).toMatch(/│ error\s+│ rejectedIdentifier: Error creating new order/);
    expect(table).toMatch(/│ domains\s+│ a\.example\.com, b\.example\.com\s+│/);
    expect(table).toMatch(/│ retry_at\s+│ in 2m\s+│/);
    expect(table).toMatch(/│ updated_at\s+│ just now\s+│/);
    expect(JSON.parse(renderStatus(status, "json"))).toEqual(status);
  });
});

/**
 * A scripted stand-in for the certificate API: create and renew answer 202,
 * and each status request returns the next state of `script`.
 */
function scriptedApi(script: Partial<IssuanceStatus>[]) {
  const seen: { method: string; path: string; body: unknown }[] = [];
  let step = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === "POST" ? ((await req.json().catch(() => null)) as { cert_name?: string } | null) : null;
      seen.push({ method: req.method, path: url.pathname + url.search, body });
      const name = body?.cert_name ?? url.pathname.split("/")[4]!;
      if (req.method === "POST") {
        return Response.json(
          { cert_name: name, domains: ["a.example.com"], status: "pending", status_url: `/api/v1/certificates/${name}/status`, message: "queued" },
          { status: 202 },
        );
      }
      if (url.pathname.endsWith("/status")) {
        const state = script[Math.min(step++, script.length - 1)];
        return Response.json({ cert_name: name, status: "pending", message: null, error: null, attempts: 1, updated_at: new Date().toISOString(), ...state });
      }
      return Response.json({ error: "not_found", detail: "no such thing" }, { status: 404 });
    },
  });
  return { server, seen, url: `http://127.0.0.1:${server.port}` };
}

describe("--wait against a scripted API", () => {
  test("waitForIssuance: one progress line per change, returns the final status", async () => {
    const api = scriptedApi([{ status: "pending", message: "queued" }, { status: "pending", message: "queued" }, { status: "issuing", message: "validating" }, { status: "ready", message: "issued" }]);
    try {
      const notes: string[] = [];
      const client = new ApiClient({ baseUrl: api.url, format: "table" });
      const final = await waitForIssuance(client, "/api/v1/certificates/a/status", "a", { intervalMs: 1, timeoutMs: 5_000, note: (t) => notes.push(t) });
      expect(final.status).toBe("ready");
      expect(notes.map((n) => n.replace(/^\[\d+s\] /, ""))).toEqual(["pending: queued", "issuing: validating", "ready: issued"]);
    } finally {
      api.server.stop(true);
    }
  });

  test("create --wait: progress on stderr, the final status on stdout, ready exits 0", async () => {
    const api = scriptedApi([{ status: "issuing", message: "validating" }, { status: "ready", message: "issued" }]);
    try {
      const run = await runProgram(api.url, "t", ["--format", "json", "cert", "create", "a", "a.example.com", "b.example.com", "--staging", "--wait", "--interval", "0.01"]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ cert_name: "a", status: "ready", message: "issued" });
      expect(run.stderr).toMatch(/^queued\n\[\d+s\] issuing: validating\n\[\d+s\] ready: issued\n$/);
      expect(api.seen[0]).toEqual({
        method: "POST",
        path: "/api/v1/certificates/multi-domain",
        body: { cert_name: "a", domains: ["a.example.com", "b.example.com"], staging: true },
      });
    } finally {
      api.server.stop(true);
    }
  });

  test("renew --wait: a failure exits 1 with the CA's problem; the status is still printed", async () => {
    const api = scriptedApi([{ status: "issuing" }, { status: "failed", message: "the CA refused the order", error: PROBLEM }]);
    try {
      const run = await runProgram(api.url, "t", ["cert", "renew", "a", "--wait", "--interval", "0.01"]);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/│ status\s+│ failed/);
      expect(run.stdout).toMatch(/│ error\s+│ rejectedIdentifier:/);
      expect(run.stderr.trimEnd().split("\n").at(-1)).toBe(
        'portcullis: certificate "a" failed: the CA refused the order; rejectedIdentifier: Error creating new order :: Cannot issue for "a.invalid" (a.invalid: dns: NXDOMAIN looking up A)',
      );
      expect(api.seen[0]).toMatchObject({ method: "POST", path: "/api/v1/certificates/a/renew" });
    } finally {
      api.server.stop(true);
    }
  });

  test("--timeout: gives up with exit 124, saying how to follow it", async () => {
    const api = scriptedApi([{ status: "issuing", message: "validating" }]);
    try {
      const run = await runProgram(api.url, "t", ["cert", "renew", "a", "--wait", "--interval", "0.02", "--timeout", "0.1"]);
      expect(run.code).toBe(WAIT_TIMEOUT_EXIT);
      expect(run.stderr).toContain('portcullis: certificate "a" is still issuing after 0.1 s; the gateway carries on: portcullis cert status a');
      expect(api.seen.filter((s) => s.path.endsWith("/status")).length).toBeGreaterThan(1);
    } finally {
      api.server.stop(true);
    }
  });

  test("without --wait: the API's answer and how to follow it", async () => {
    const api = scriptedApi([]);
    try {
      const run = await runProgram(api.url, "t", ["cert", "create", "a", "a.example.com", "--email", "ops@example.com", "--key-type", "rsa", "--no-staging"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/│ status_url\s+│ \/api\/v1\/certificates\/a\/status/);
      expect(run.stdout).toContain("Issuing in the background. Follow it: portcullis cert status a");
      expect(api.seen).toEqual([
        { method: "POST", path: "/api/v1/certificates/", body: { cert_name: "a", domain: "a.example.com", email: "ops@example.com", staging: false, key_type: "rsa" } },
      ]);
    } finally {
      api.server.stop(true);
    }
  });

  test("argument errors stop before any request", async () => {
    const api = scriptedApi([]);
    try {
      const keyType = await runProgram(api.url, "t", ["cert", "create", "a", "a.example.com", "--key-type", "dsa"]);
      expect(keyType.code).toBe(1);
      expect(keyType.stderr).toContain("argument 'dsa' is invalid. Allowed choices are rsa, ecdsa.");
      const staging = await runProgram(api.url, "t", ["cert", "create", "a", "a.example.com", "--self-signed", "--staging"]);
      expect(staging.code).toBe(1);
      expect(staging.stderr).toContain("a --self-signed certificate uses no CA");
      const timeout = await runProgram(api.url, "t", ["cert", "create", "a", "a.example.com", "--wait", "--timeout", "soon"]);
      expect(timeout.code).toBe(1);
      expect(timeout.stderr).toBe('portcullis: --timeout "soon": expected a number of seconds above 0\n');
      const noDomain = await runProgram(api.url, "t", ["cert", "create", "a"]);
      expect(noDomain.code).toBe(1);
      expect(noDomain.stderr).toContain("missing required argument 'domain'");
      const force = await runProgram(api.url, "t", ["proxy", "delete", "a.example.com", "--force"]);
      expect(force.code).toBe(1);
      expect(force.stderr).toContain("--force is for --delete-cert");
      expect(api.seen).toEqual([]);
    } finally {
      api.server.stop(true);
    }
  });
});

/** The recipes' command lines (`just --dry-run`): arguments by position, booleans checked before anything runs. */
describe.skipIf(!justBinary)("just recipes (dry run)", () => {
  const dryRun = (...args: string[]) => justDryRun(HOME, ["cert", "proxy"], ...args);

  const cases: [string[], string][] = [
    [["cert-create", "app", "app.example.com"], "cert create 'app' 'app.example.com'"],
    [["cert-create", "app", "app.example.com", "true", "ops@example.com", "tok"], "--token 'tok' cert create 'app' 'app.example.com' --staging --email 'ops@example.com'"],
    [["cert-create", "app", "app.example.com", "false"], "cert create 'app' 'app.example.com' --no-staging"],
    [["cert-list"], "cert list"],
    [["cert-list", "tok"], "--token 'tok' cert list"],
    [["cert-show", "app"], "cert show 'app'"],
    [["cert-show", "app", "true", "tok"], "--token 'tok' cert show 'app' --pem"],
    [["cert-show", "app", "false"], "cert show 'app'"],
    [["cert-status", "app", "tok"], "--token 'tok' cert status 'app'"],
    [["cert-renew", "app"], "cert renew 'app'"],
    [["cert-delete", "app"], "cert delete 'app'"],
    [["cert-delete", "app", "true", "tok"], "--token 'tok' cert delete 'app' --force"],
    [["cert-root"], "cert root"],
    [["cert-root", "tok"], "--token 'tok' cert root"],
    [["proxy-create", "a.example.com", "http://127.0.0.1:3000", "true", "", "", "", "ops@example.com"], "proxy create 'a.example.com' 'http://127.0.0.1:3000' --staging --email 'ops@example.com'"],
    [["proxy-create", "a.example.com", "http://127.0.0.1:3000", "false", "false"], "proxy create 'a.example.com' 'http://127.0.0.1:3000' --no-staging --no-preserve-host"],
    [["proxy-delete", "a.example.com", "true", "true", "tok"], "--token 'tok' proxy delete 'a.example.com' --delete-cert --force"],
    [["proxy-delete", "a.example.com", "true"], "proxy delete 'a.example.com' --delete-cert"],
    [["proxy-delete", "a.example.com"], "proxy delete 'a.example.com'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const { code, line } = await dryRun(...args);
      expect({ code, line }).toEqual({ code: 0, line: expected });
    });
  }

  const refused: [string[], string][] = [
    [["cert-create", "app", "app.example.com", "yes"], "staging: expected true or false, got 'yes'"],
    [["cert-show", "app", "1"], "pem: expected true or false, got '1'"],
    [["cert-delete", "app", "please"], "force: expected true or false, got 'please'"],
    [["proxy-create", "a.example.com", "http://x", "on"], "staging: expected true or false, got 'on'"],
    [["proxy-delete", "a.example.com", "y"], "delete-cert: expected true or false, got 'y'"],
    [["proxy-delete", "a.example.com", "", "y"], "force: expected true or false, got 'y'"],
  ];
  for (const [args, message] of refused) {
    test(`just ${args.join(" ")} is refused`, async () => {
      const { code, stderr } = await dryRun(...args);
      expect(code).not.toBe(0);
      expect(stderr).toContain(message);
    });
  }
});

/**
 * The real certificate API of an in-process gateway. Self-signed certificates
 * need no CA, and no ACME request is made here: AUTO_CERTIFICATES is off and
 * the directories point at a closed loopback port, so nothing leaves this
 * machine. tests/e2e/cli-cert.test.ts drives ACME issuance against pebble.
 */
describe("against the gateway's certificate API", () => {
  let redis: TestRedis;
  let gateway: TestGateway;
  let apiUrl: string;
  const { cli, ok, json } = cliSession(() => apiUrl, GATEWAY_ADMIN, HOME);
  const failing = async (...args: string[]) => {
    const run = await cli(...args);
    expect(run.code).not.toBe(0);
    return run.stderr;
  };

  const closed = `https://127.0.0.1:${closedPort()}/directory`;
  beforeAll(async () => {
    redis = await startTestRedis();
    gateway = await startTestGateway(redis, { AUTO_CERTIFICATES: "false", ACME_DIRECTORY_URL: closed, ACME_STAGING_URL: closed });
    apiUrl = `http://127.0.0.1:${gateway.gateway.apiPort}`;
  });
  afterAll(async () => {
    await gateway?.stop();
    await redis?.stop();
  });

  test("empty list: how to create the first one (table), [] (json), the header (csv)", async () => {
    expect(await ok("cert", "list")).toBe(`${EMPTY_CERTIFICATES_HINT}\n`);
    expect(await json("cert", "list")).toEqual([]);
    expect(await ok("--format", "csv", "cert", "list")).toBe("Name,Domains,Status,Expires,Issuer\n");
  });

  test("create --directory: an allowed directory is used; another is refused by the gateway, naming the field", async () => {
    const accepted = await json("cert", "create", "dir-ok", "dir-ok.example.test", "--directory", closed);
    expect(accepted).toMatchObject({ cert_name: "dir-ok", status: "pending", acme_directory_url: closed });
    const refused = await failing("cert", "create", "dir-bad", "dir-bad.example.test", "--directory", "https://127.0.0.1:1/elsewhere");
    expect(refused).toContain("acme_directory_url");
    expect(refused).toContain(closed);
    // Still pending (nothing issues here): deleting it cancels the request.
    expect(await ok("cert", "delete", "dir-ok")).toContain("dir-ok");
    expect(await failing("cert", "status", "dir-ok")).toContain("404");
  });

  test("create --self-signed: 201 and the certificate at once, its chain but never its key", async () => {
    const line = await ok("cert", "create", "local", "local.example.test", "--self-signed");
    expect(line).toMatch(/^created certificate local \(self-signed\) for local\.example\.test, valid until \d{4}-\d\d-\d\dT\S+\n$/);
    const table = await ok("cert", "show", "local");
    expect(table).toMatch(/│ cert_name\s+│ local\s+│/);
    expect(table).toMatch(/│ domains\s+│ local\.example\.test\s+│/);
    expect(table).toMatch(/│ issuer\s+│ self-signed\s+│/);
    expect(table).toMatch(/│ expires_at\s+│ in 36[45]d\s+│/);
    expect(table).toContain("-----BEGIN CERTIFICATE-----");
    expect(table).not.toContain("PRIVATE KEY");

    const multi = await json("cert", "create", "multi", "a.multi.test", "B.multi.test", "*.multi.test", "--self-signed");
    expect(multi).toMatchObject({ cert_name: "multi", domains: ["a.multi.test", "b.multi.test", "*.multi.test"], acme_directory_url: null });
    expect(multi).not.toHaveProperty("private_key_pem");
    expect(new X509Certificate(multi.fullchain_pem).subjectAltName).toBe("DNS:a.multi.test, DNS:b.multi.test, DNS:*.multi.test");
  });

  test("list in table, json, yaml and csv", async () => {
    const table = await ok("cert", "list");
    expect(table).toMatch(/│ Name\s+│ Domains\s+│ Status\s+│ Expires\s+│ Issuer\s+│/);
    expect(table).toMatch(/│ local\s+│ local\.example\.test\s+│ active\s+│ in 36[45]d\s+│ self-signed\s+│/);
    expect(table).toMatch(/│ multi\s+│ a\.multi\.test, b\.multi\.test, \*\.multi\.test\s+│ active\s+│/);

    const rows = await json("cert", "list");
    expect(rows.map((c: CertificateView) => c.cert_name).sort()).toEqual(["local", "multi"]);
    for (const row of rows) expect(Object.keys(row).filter((k) => k.endsWith("_pem"))).toEqual([]);
    expect(parseYaml(await ok("--format", "yaml", "cert", "list"))).toEqual(rows);
    const csv = (await ok("--format", "csv", "cert", "list")).trimEnd().split("\n");
    expect(csv[0]).toBe("Name,Domains,Status,Expires,Issuer");
    expect(csv).toContainEqual(expect.stringMatching(/^local,local\.example\.test,active,\d{4}-\d\d-\d\dT[\d:.]+Z,self-signed$/));
  });

  test("show: the chain without --pem, the key too with it", async () => {
    const shown = await json("cert", "show", "multi");
    expect(shown.fullchain_pem).toContain("-----BEGIN CERTIFICATE-----");
    expect(shown).not.toHaveProperty("private_key_pem");
    for (const format of ["table", "yaml", "csv"]) expect(await ok("--format", format, "cert", "show", "multi")).not.toContain("PRIVATE KEY");

    const withKey = await json("cert", "show", "multi", "--pem");
    expect(createPrivateKey(withKey.private_key_pem).asymmetricKeyType).toBeString();
    const table = await ok("cert", "show", "multi", "--pem");
    expect(table).toContain(withKey.fullchain_pem.trimEnd());
    expect(table).toContain(withKey.private_key_pem.trimEnd());
    expect(table).toMatch(/│ domains\s+│ a\.multi\.test, b\.multi\.test, \*\.multi\.test/);
  });

  test("status of a certificate that needed no issuance: ready", async () => {
    expect(await json("cert", "status", "local")).toMatchObject({ cert_name: "local", status: "ready", error: null });
    expect(await ok("cert", "status", "local")).toMatch(/│ status\s+│ ready\s+│/);
  });

  test("renew of a self-signed certificate: a new one at once (no status URL to follow)", async () => {
    const before = await json("cert", "show", "local");
    const renewed = await json("cert", "renew", "local", "--wait");
    expect(renewed.cert_name).toBe("local");
    expect(renewed.fullchain_pem).not.toBe(before.fullchain_pem);
    expect(renewed).not.toHaveProperty("private_key_pem");
  });

  test("the API's refusals, one line each", async () => {
    expect(await failing("cert", "show", "ghost")).toBe('portcullis: GET /api/v1/certificates/ghost: 404 not_found: certificate "ghost" not found\n');
    expect(await failing("cert", "status", "ghost")).toContain('404 not_found: certificate "ghost" not found');
    expect(await failing("cert", "delete", "ghost")).toContain('404 not_found: certificate "ghost" not found');
    expect(await failing("cert", "renew", "ghost")).toContain('404 not_found: certificate "ghost" not found');
    expect(await failing("cert", "create", "local", "other.example.test", "--self-signed")).toContain("409 conflict: a certificate named local already exists");
    expect(await failing("cert", "create", "bad name", "x.example.test", "--self-signed")).toContain("422 invalid_request: cert_name");
    // A public wildcard (an internal one, *.wild.test, goes to the local CA, which signs it).
    expect(await failing("cert", "create", "wild", "*.wild.example.com")).toContain("422 invalid_request: domains: *.wild.example.com needs a DNS-01 challenge");
    expect(await failing("cert", "create", "mail", "mail.example.test", "--email", "not-an-email")).toContain("422 invalid_request: email");
    const noToken = await runProgram(apiUrl, undefined, ["cert", "list"]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("401 unauthorized");
    expect(noToken.stderr).toContain("(pass --token or set TOKEN)");
    expect(await json("cert", "list")).toHaveLength(2);
  });

  test("delete: 409 while a proxy uses it (with the CLI's way out), --force deletes it anyway", async () => {
    // A new proxy reuses a stored certificate that covers its hostname.
    expect(await json("proxy", "create", "local.example.test", "http://127.0.0.1:1")).toMatchObject({ cert_name: "local" });

    const refused = await failing("cert", "delete", "local");
    expect(refused).toContain("DELETE /api/v1/certificates/local: 409 conflict: certificate local is used by local.example.test");
    expect(refused.trimEnd()).toEndWith("With this CLI: portcullis cert delete local --force");
    expect((await json("cert", "list")).map((c: CertificateView) => c.cert_name)).toContain("local");

    expect(await json("cert", "delete", "local", "--force")).toEqual({ deleted: "local" });
    expect(await failing("cert", "show", "local")).toContain("404 not_found");
    // The proxy stays; it is served with the default certificate now.
    expect(await json("proxy", "show", "local.example.test")).toMatchObject({ hostname: "local.example.test" });
    expect(await ok("cert", "delete", "multi")).toMatch(/│ deleted\s+│ multi\s+│/);
  });

  test("proxy delete --delete-cert: refused while another proxy shares it, --force deletes both", async () => {
    await ok("cert", "create", "shared", "a.shared.test", "b.shared.test", "--self-signed");
    await ok("proxy", "create", "a.shared.test", "http://127.0.0.1:1");
    await ok("proxy", "create", "b.shared.test", "http://127.0.0.1:1");

    const refused = await failing("proxy", "delete", "a.shared.test", "--delete-cert");
    expect(refused).toContain("409 conflict: certificate shared is also used by b.shared.test");
    expect(refused.trimEnd()).toEndWith("With this CLI: portcullis proxy delete a.shared.test --delete-cert --force");
    expect(await json("proxy", "show", "a.shared.test")).toMatchObject({ cert_name: "shared" });

    expect(await json("proxy", "delete", "a.shared.test", "--delete-cert", "--force")).toEqual({ deleted: "a.shared.test", certificate_deleted: "shared" });
    expect(await failing("cert", "show", "shared")).toContain("404 not_found");
    // Without --delete-cert the certificate stays.
    await ok("cert", "create", "kept", "b.shared.test", "--self-signed");
    expect(await json("proxy", "delete", "b.shared.test")).toEqual({ deleted: "b.shared.test" });
    expect(await json("cert", "show", "kept")).toMatchObject({ cert_name: "kept" });
  });

  test("proxy create --email: sent as cert_email, which the API checks", async () => {
    expect(await failing("proxy", "create", "bad-mail.example.test", "http://127.0.0.1:1", "--staging", "--email", "nope")).toContain(
      '422 invalid_request: cert_email: "nope" is not an email address',
    );
    expect(await failing("proxy", "show", "bad-mail.example.test")).toContain("404 not_found");
  });
});
