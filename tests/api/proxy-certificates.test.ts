/**
 * "Smart certificate handling" when a proxy is created through the API, with
 * AUTO_CERTIFICATES on: reuse a certificate that covers the hostname, else
 * queue an ACME request for it (read back from Redis; no worker runs).
 */
import { describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { ADMIN, apiHarness, useApiHarness } from "../helpers/api-app";
import { fullSnapshot, queuedJobs } from "../helpers/certificate-state";

const PRODUCTION = "https://acme.production.test/directory";
const STAGING = "https://acme.staging.test/directory";
// The .test names here are meant for ACME (an ACME CA that issues for them); the local CA has tests of its own.
const ENV = { AUTO_CERTIFICATES: "true", ACME_DIRECTORY_URL: PRODUCTION, ACME_STAGING_URL: STAGING, ACME_INTERNAL_NAMES: "true" };

const suite = useApiHarness(ENV);

const createProxy = (body: Record<string, unknown>, token?: string) =>
  suite.api.call("POST", "/api/v1/proxy/targets/", { body: { target_url: "http://127.0.0.1:3000", ...body }, token });

async function userToken(name: string, certEmail: string | null = null): Promise<string> {
  const res = await suite.api.call("POST", "/api/v1/tokens/", { body: { name, cert_email: certEmail } });
  expect(res.status).toBe(201);
  return res.json.token;
}

async function selfSigned(name: string, domains: string[]) {
  const res = await suite.api.call("POST", "/api/v1/certificates/multi-domain", { body: { cert_name: name, domains, acme: false } });
  expect(res.status).toBe(201);
}

describe("a new HTTPS proxy without a certificate", () => {
  test("gets cert_name proxy-<host> and one ACME job for its hostname, contact ADMIN_EMAIL by default", async () => {
    const res = await createProxy({ hostname: "App.Example.test" });
    expect(res.status).toBe(201);
    expect(res.json.cert_name).toBe("proxy-app-example-test");
    expect(JSON.parse((await suite.redis.client.get(keys.proxy("app.example.test")))!).cert_name).toBe("proxy-app-example-test");
    expect(await queuedJobs(suite.redis.client)).toEqual([
      {
        cert_name: "proxy-app-example-test",
        domains: ["app.example.test"],
        email: "admin@example.test",
        directory_url: PRODUCTION,
        key_type: "rsa",
        owner_token_hash: hashApiToken(ADMIN),
        operation: "issue",
        attempt: 1,
        request_id: expect.any(String),
      },
    ]);
    // Its progress is readable at the usual place.
    const status = await suite.api.call("GET", "/api/v1/certificates/proxy-app-example-test/status");
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ status: "pending", operation: "issue", domains: ["app.example.test"] });
    // Neither staging nor cert_email is stored on the proxy.
    expect(res.json.staging).toBeUndefined();
    expect(res.json.cert_email).toBeUndefined();
  });

  test("the contact: cert_email from the body, else the token's cert_email, else ADMIN_EMAIL", async () => {
    const withEmail = await userToken("with-email", "team@example.org");
    const without = await userToken("without-email");
    expect((await createProxy({ hostname: "a.example.test", cert_email: "body@example.org" }, withEmail)).status).toBe(201);
    expect((await createProxy({ hostname: "b.example.test" }, withEmail)).status).toBe(201);
    expect((await createProxy({ hostname: "c.example.test" }, without)).status).toBe(201);

    // The admin's own cert_email, set through the tokens API, counts as a token's.
    expect((await createProxy({ hostname: "d.example.test" })).status).toBe(201);
    const set = await suite.api.call("PUT", "/api/v1/tokens/email", { body: { email: "root@example.org" } });
    expect(set.status).toBe(200);
    expect((await createProxy({ hostname: "e.example.test" })).status).toBe(201);

    expect((await queuedJobs(suite.redis.client)).map((j) => [j.cert_name, j.email, j.owner_token_hash])).toEqual([
      ["proxy-a-example-test", "body@example.org", hashApiToken(withEmail)],
      ["proxy-b-example-test", "team@example.org", hashApiToken(withEmail)],
      ["proxy-c-example-test", "admin@example.test", hashApiToken(without)],
      ["proxy-d-example-test", "admin@example.test", hashApiToken(ADMIN)],
      ["proxy-e-example-test", "root@example.org", hashApiToken(ADMIN)],
    ]);
    // The user owns the requested certificate's status; another user cannot read it.
    const other = await userToken("other");
    expect((await suite.api.call("GET", "/api/v1/certificates/proxy-b-example-test/status", { token: withEmail })).status).toBe(200);
    expect((await suite.api.call("GET", "/api/v1/certificates/proxy-b-example-test/status", { token: other })).status).toBe(404);
  });

  test("staging: true requests it from ACME_STAGING_URL", async () => {
    expect((await createProxy({ hostname: "staged.example.test", staging: true })).status).toBe(201);
    expect((await createProxy({ hostname: "prod.example.test", staging: false })).status).toBe(201);
    expect((await queuedJobs(suite.redis.client)).map((j) => [j.cert_name, j.directory_url])).toEqual([
      ["proxy-staged-example-test", STAGING],
      ["proxy-prod-example-test", PRODUCTION],
    ]);
  });
});

describe("no request", () => {
  test("an exact certificate for the hostname is reused", async () => {
    await selfSigned("exact", ["app.example.test"]);
    const res = await createProxy({ hostname: "app.example.test" });
    expect(res.status).toBe(201);
    expect(res.json.cert_name).toBe("exact");
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
    expect(await suite.redis.client.keys("cert:status:*")).toEqual([]);
  });

  test("a wildcard certificate one label up is reused", async () => {
    await selfSigned("wild", ["*.wild.test"]);
    const res = await createProxy({ hostname: "app.wild.test" });
    expect(res.json.cert_name).toBe("wild");
    // Not two labels up: that one gets its own request.
    const deeper = await createProxy({ hostname: "a.b.wild.test" });
    expect(deeper.json.cert_name).toBe("proxy-a-b-wild-test");
    expect((await queuedJobs(suite.redis.client)).map((j) => j.cert_name)).toEqual(["proxy-a-b-wild-test"]);
  });

  test("a wildcard proxy reuses a wildcard certificate for its pattern", async () => {
    await selfSigned("wild", ["*.wild.test"]);
    expect((await createProxy({ hostname: "*.wild.test" })).json.cert_name).toBe("wild");
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
  });

  test("enable_https: false gets no certificate and no job", async () => {
    const res = await createProxy({ hostname: "plain.example.test", enable_https: false, staging: true, cert_email: "x@example.org" });
    expect(res.status).toBe(201);
    expect(res.json.cert_name).toBeNull();
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
    expect(await suite.redis.client.keys("cert:*")).toEqual([]);
  });

  test("a wildcard hostname without a covering certificate: HTTP-01 cannot prove it, so no job", async () => {
    const res = await createProxy({ hostname: "*.apps.example.test" });
    expect(res.status).toBe(201);
    expect(res.json.cert_name).toBeNull();
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
  });

  test("a single-label hostname: no public CA issues for it, so no job", async () => {
    const res = await createProxy({ hostname: "intranet" });
    expect(res.status).toBe(201);
    expect(res.json.cert_name).toBeNull();
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
  });

  test("an explicit cert_name is kept as given, covering certificate or not", async () => {
    await selfSigned("exact", ["covered.example.test"]);
    const named = await createProxy({ hostname: "named.example.test", cert_name: "my-cert" });
    expect(named.status).toBe(201);
    expect(named.json.cert_name).toBe("my-cert");
    const covered = await createProxy({ hostname: "covered.example.test", cert_name: "other-cert" });
    expect(covered.json.cert_name).toBe("other-cert");
    const none = await createProxy({ hostname: "none.example.test", cert_name: null });
    expect(none.json.cert_name).toBeNull();
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
    expect(await suite.redis.client.keys("cert:status:*")).toEqual([]);
  });

  test("with AUTO_CERTIFICATES off (the harness default), nothing is requested but a covering certificate is still named", async () => {
    suite.api = await apiHarness(suite.redis, { ACME_DIRECTORY_URL: PRODUCTION, ACME_STAGING_URL: STAGING });
    const res = await createProxy({ hostname: "off.example.test", staging: true });
    expect(res.status).toBe(201);
    expect(res.json.cert_name).toBeNull();
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
    expect(await suite.redis.client.keys("cert:status:*")).toEqual([]);

    await selfSigned("wild", ["*.wild.test"]);
    expect((await createProxy({ hostname: "app.wild.test" })).json.cert_name).toBe("wild");
  });
});

describe("refused proxies request nothing", () => {
  for (const [name, body, status, detail] of [
    ["invalid cert_email", { hostname: "bad.example.test", cert_email: "not-an-email" }, 422, /^cert_email: "not-an-email" is not an email address/],
    ["empty cert_email", { hostname: "bad.example.test", cert_email: "" }, 422, /cert_email/],
    ["staging not a boolean", { hostname: "bad.example.test", staging: "yes" }, 422, /staging/],
    ["bad hostname", { hostname: "bad host", cert_email: "ok@example.org" }, 422, /hostname/],
    ["the API hostname", { hostname: "localhost" }, 409, /reserved for the API/],
    ["a hostname that exists", { hostname: "taken.example.test" }, 409, /already exists/],
  ] as const) {
    test(name, async () => {
      await selfSigned("taken", ["taken.example.test"]);
      expect((await createProxy({ hostname: "taken.example.test" })).status).toBe(201);
      const before = await fullSnapshot(suite.redis.client);
      const res = await createProxy(body);
      expect(res.status).toBe(status);
      expect(res.json.detail).toMatch(detail);
      expect(await fullSnapshot(suite.redis.client)).toEqual(before);
    });
  }

  // A certificate already holding the name proxy-<host> for other names is neither reused nor replaced.
  test("a certificate already named proxy-<host> but not covering the host does not become the proxy's", async () => {
    await selfSigned("proxy-app-example-test", ["elsewhere.example.test"]);
    const res = await createProxy({ hostname: "app.example.test" });
    expect(res.status).toBe(201);
    expect(res.json.cert_name).not.toBe("proxy-app-example-test");
  });
});

describe("deleting the proxy with ?delete_cert=true", () => {
  test("once its certificate exists, deletes it", async () => {
    expect((await createProxy({ hostname: "app.example.test" })).status).toBe(201);
    // Pretend the issuance finished: a worker stored it.
    await suite.api.certificateManager.createSelfSigned("proxy-app-example-test", ["app.example.test"], hashApiToken(ADMIN));
    await suite.api.certificateManager.statuses.set({ cert_name: "proxy-app-example-test", status: "ready", operation: "issue", domains: ["app.example.test"], message: "issued", error: null, attempts: 1, retry_at: null, owner_token_hash: hashApiToken(ADMIN) });
    await suite.redis.client.del(keys.certificateJobs);
    const res = await suite.api.call("DELETE", "/api/v1/proxy/targets/app.example.test?delete_cert=true");
    expect(res.json).toEqual({ deleted: "app.example.test", certificate_deleted: "proxy-app-example-test" });
    expect(await suite.redis.client.keys("cert:*")).toEqual([]);
  });

  // The request queued for the proxy survives: a worker later issues a certificate nobody uses, which the
  // caller asked to delete (response: certificate_deleted null; the job and status stay in Redis).
  test("before its certificate is issued, cancels the request for it", async () => {
    expect((await createProxy({ hostname: "app.example.test" })).status).toBe(201);
    expect(await queuedJobs(suite.redis.client)).toHaveLength(1);
    const res = await suite.api.call("DELETE", "/api/v1/proxy/targets/app.example.test?delete_cert=true");
    expect(res.status).toBe(200);
    expect({
      jobs: (await queuedJobs(suite.redis.client)).map((j) => j.cert_name),
      status: await suite.redis.client.exists(keys.certificateStatus("proxy-app-example-test")),
    }).toEqual({ jobs: [], status: 0 });
  });
});

