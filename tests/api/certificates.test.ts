/**
 * /api/v1/certificates in-process against a real Redis. The manager's workers
 * do not run, so an ACME request stays queued: what the API queues (status,
 * job, directory) is read straight from Redis. Self-signed certificates are
 * made at once and checked with node:crypto.
 */
import { describe, expect, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { ADMIN, snapshot, useApiHarness } from "../helpers/api-app";
import { acmeRecord, fullSnapshot, laterJobs, queuedJobs } from "../helpers/certificate-state";

const PRODUCTION = "https://acme.production.test/directory";
const STAGING = "https://acme.staging.test/directory";
const ADMIN_HASH = hashApiToken(ADMIN);

const suite = useApiHarness({ ACME_DIRECTORY_URL: PRODUCTION, ACME_STAGING_URL: STAGING });

const call = (method: string, path: string, options: { token?: string | null; body?: unknown } = {}) => suite.api.call(method, path, options);
const createOne = (body: Record<string, unknown>, token?: string) => call("POST", "/api/v1/certificates/", { body, token });
const createMany = (body: Record<string, unknown>, token?: string) => call("POST", "/api/v1/certificates/multi-domain", { body, token });

async function userToken(name: string, certEmail: string | null = null): Promise<string> {
  const res = await call("POST", "/api/v1/tokens/", { body: { name, cert_email: certEmail } });
  expect(res.status).toBe(201);
  return res.json.token;
}

async function selfSigned(name: string, domains: string[], token?: string) {
  const res = await createMany({ cert_name: name, domains, acme: false }, token);
  expect(res.status).toBe(201);
  return res.json;
}

/** A stored ACME certificate (as a finished issuance leaves it), owned by `owner`. */
async function storedAcme(name: string, domains: string[], options: { directory?: string; email?: string; owner?: string | null } = {}) {
  const record = await acmeRecord(name, domains, { directory: options.directory ?? PRODUCTION, email: options.email ?? "ops@example.org", owner: options.owner ?? ADMIN_HASH });
  expect(await suite.api.certificates.create(record)).toBe(true);
  return record;
}

const sans = (pem: string) => new X509Certificate(pem).subjectAltName!.split(", ").sort();

describe("an ACME request is queued, not issued", () => {
  test("one domain: 202 with a status URL, a readable pending status, one job for ACME_DIRECTORY_URL", async () => {
    const res = await createOne({ cert_name: "site", domain: "Site.Example.com" });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ cert_name: "site", domains: ["site.example.com"], status: "pending", status_url: "/api/v1/certificates/site/status" });
    expect(res.json.message).toContain(PRODUCTION);

    const status = await call("GET", res.json.status_url);
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({
      cert_name: "site",
      status: "pending",
      operation: "issue",
      domains: ["site.example.com"],
      error: null,
      attempts: 0,
      retry_at: null,
    });
    expect(Date.parse(status.json.updated_at)).toBeGreaterThan(Date.now() - 60_000);
    // Who asked is not shown.
    expect(status.json.owner_token_hash).toBeUndefined();

    expect(await queuedJobs(suite.redis.client)).toEqual([
      {
        cert_name: "site",
        domains: ["site.example.com"],
        email: "admin@example.test",
        directory_url: PRODUCTION,
        key_type: "rsa",
        owner_token_hash: ADMIN_HASH,
        operation: "issue",
        attempt: 1,
        request_id: expect.any(String),
      },
    ]);
    // No certificate until a worker issues it.
    expect((await call("GET", "/api/v1/certificates/site")).status).toBe(404);
    expect((await call("GET", "/api/v1/certificates/")).json).toEqual([]);
    expect(await suite.redis.client.exists(keys.certificate("site"))).toBe(0);
  });

  test("staging: true queues the job for ACME_STAGING_URL; email and key_type travel with it", async () => {
    const res = await createOne({ cert_name: "staged", domain: "staged.example.com", staging: true, email: "ops@example.org", key_type: "ecdsa" });
    expect(res.status).toBe(202);
    expect(res.json.message).toContain(STAGING);
    const [job] = await queuedJobs(suite.redis.client);
    expect(job).toMatchObject({ cert_name: "staged", directory_url: STAGING, email: "ops@example.org", key_type: "ecdsa" });

    expect((await createOne({ cert_name: "prod", domain: "prod.example.com", staging: false })).status).toBe(202);
    expect((await queuedJobs(suite.redis.client)).map((j) => [j.cert_name, j.directory_url])).toEqual([
      ["staged", STAGING],
      ["prod", PRODUCTION],
    ]);
  });

  test("the contact is the request's email, else the token's cert_email, else ADMIN_EMAIL", async () => {
    const withEmail = await userToken("with-email", "dev@example.org");
    const without = await userToken("without-email");
    expect((await createOne({ cert_name: "a", domain: "a.example.com" }, withEmail)).status).toBe(202);
    expect((await createOne({ cert_name: "b", domain: "b.example.com", email: "given@example.org" }, withEmail)).status).toBe(202);
    expect((await createOne({ cert_name: "c", domain: "c.example.com" }, without)).status).toBe(202);
    expect((await createOne({ cert_name: "d", domain: "d.example.com", email: null }, withEmail)).status).toBe(202);
    const jobs = await queuedJobs(suite.redis.client);
    expect(jobs.map((j) => [j.cert_name, j.email, j.owner_token_hash])).toEqual([
      ["a", "dev@example.org", hashApiToken(withEmail)],
      ["b", "given@example.org", hashApiToken(withEmail)],
      ["c", "admin@example.test", hashApiToken(without)],
      ["d", "dev@example.org", hashApiToken(withEmail)],
    ]);
  });

  test("multi-domain: names lowercased, trailing dots dropped, duplicates removed, order kept", async () => {
    const res = await createMany({ cert_name: "multi", domains: ["B.example.com", "a.example.com", "b.example.com.", "A.EXAMPLE.COM", "c.example.com"] });
    expect(res.status).toBe(202);
    expect(res.json.domains).toEqual(["b.example.com", "a.example.com", "c.example.com"]);
    expect((await queuedJobs(suite.redis.client))[0]!.domains).toEqual(["b.example.com", "a.example.com", "c.example.com"]);
    expect((await call("GET", "/api/v1/certificates/multi/status")).json.domains).toEqual(["b.example.com", "a.example.com", "c.example.com"]);
  });

  test("multi-domain: 100 names are accepted, 101 are a 422 naming domains and write nothing", async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `host${i}.example.com`);
    const hundred = await createMany({ cert_name: "hundred", domains: names(100) });
    expect(hundred.status).toBe(202);
    expect((await queuedJobs(suite.redis.client))[0]!.domains).toHaveLength(100);

    const before = await fullSnapshot(suite.redis.client);
    const tooMany = await createMany({ cert_name: "too-many", domains: names(101) });
    expect(tooMany.status).toBe(422);
    expect(tooMany.json.detail).toMatch(/^domains: .*100/);
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);
  });

  test("a second request for a name still pending is a 409 pointing at the status, and queues nothing", async () => {
    expect((await createOne({ cert_name: "dup", domain: "dup.example.com" })).status).toBe(202);
    const before = await fullSnapshot(suite.redis.client);
    for (const again of [
      () => createOne({ cert_name: "dup", domain: "other.example.com" }),
      () => createMany({ cert_name: "dup", domains: ["dup.example.com", "x.example.com"], staging: true }),
    ]) {
      const res = await again();
      expect(res.status).toBe(409);
      expect(res.json.detail).toContain("/api/v1/certificates/dup/status");
    }
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);
    expect(await queuedJobs(suite.redis.client)).toHaveLength(1);
  });

  test("a request for the name of an existing certificate is a 409 and queues nothing", async () => {
    await selfSigned("taken", ["taken.example.com"]);
    const before = await fullSnapshot(suite.redis.client);
    const res = await createOne({ cert_name: "taken", domain: "taken.example.com" });
    expect(res.status).toBe(409);
    expect(res.json.detail).toMatch(/already exists/);
    const again = await createMany({ cert_name: "taken", domains: ["new.example.com"], acme: false });
    expect(again.status).toBe(409);
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);
  });

  // Otherwise the worker would later replace the self-signed certificate the caller was just given.
  test("a self-signed request for a name whose ACME issuance is pending is refused like an ACME one", async () => {
    expect((await createOne({ cert_name: "racing", domain: "racing.example.com" })).status).toBe(202);
    const res = await createOne({ cert_name: "racing", domain: "racing.example.com", acme: false });
    expect(res.status).toBe(409);
  });
});

describe("bad input is a 422 naming the field, and writes nothing", () => {
  const one = (extra: Record<string, unknown>) => ({ path: "/api/v1/certificates/", body: { cert_name: "c", domain: "c.example.com", ...extra } });
  const many = (extra: Record<string, unknown>) => ({ path: "/api/v1/certificates/multi-domain", body: { cert_name: "c", domains: ["c.example.com"], ...extra } });
  const cases: [string, { path: string; body: Record<string, unknown> }, RegExp][] = [
    ["cert_name with a space", one({ cert_name: "bad name" }), /^cert_name: "bad name"/],
    ["cert_name with a slash", one({ cert_name: "a/b" }), /^cert_name: /],
    ["cert_name starting with a dot", one({ cert_name: ".hidden" }), /^cert_name: /],
    ["empty cert_name", one({ cert_name: "" }), /^cert_name: /],
    ["cert_name of 129 characters", one({ cert_name: "n".repeat(129) }), /^cert_name: /],
    ["missing cert_name", { path: "/api/v1/certificates/", body: { domain: "c.example.com" } }, /^cert_name: /],
    ["domain with a scheme", one({ domain: "https://c.example.com" }), /domain.*https:\/\/c\.example\.com.*not a hostname/],
    ["domain with a port", one({ domain: "c.example.com:443" }), /domain.*not a hostname/],
    ["a wildcard over one label", one({ domain: "*.localhost" }), /^domain: "\*\.localhost" is a wildcard over a single label.*"\*\.app\.localhost"/],
    ["an address with a leading zero", one({ domain: "127.0.0.01" }), /^domain: "127\.0\.0\.01" ends in a number but is not an IPv4 address/],
    ["a three-part address", one({ domain: "1.2.3" }), /not an IPv4 address/],
    ["an address as one number", one({ domain: "2130706433" }), /not an IPv4 address/],
    ["a wildcard over addresses", one({ domain: "*.0.0.1" }), /^domain: "\*\.0\.0\.1" ends in a number/],
    ["empty domain", one({ domain: "" }), /^domain: /],
    ["missing domain", { path: "/api/v1/certificates/", body: { cert_name: "c" } }, /^domain: /],
    ["bad name among many", many({ domains: ["ok.example.com", "not a host"] }), /^domains\[1\]: "not a host" is not a hostname/],
    ["empty domain list", many({ domains: [] }), /^domains: /],
    ["domains not a list", many({ domains: "c.example.com" }), /^domains: /],
    ["wildcard with ACME", one({ domain: "*.example.com" }), /^domains: \*\.example\.com needs a DNS-01 challenge/],
    ["wildcard with ACME among many", many({ domains: ["a.example.com", "*.example.com"], acme: true }), /^domains: \*\.example\.com needs a DNS-01/],
    ["bad email", one({ email: "not-an-email" }), /^email: "not-an-email" is not an email address/],
    ["email with a space", many({ email: "a b@example.com" }), /^email: /],
    ["unknown field", one({ colour: "red" }), /colour/],
    ["unknown field among many", many({ domain: "c.example.com" }), /domain/],
    ["server-managed field", one({ owner_token_hash: "sha256:x" }), /owner_token_hash/],
    ["key_type dsa", one({ key_type: "dsa" }), /^key_type: /],
    ["key_type RSA in capitals", many({ key_type: "RSA" }), /^key_type: /],
    ["staging for a self-signed certificate", one({ acme: false, staging: true }), /^staging: applies to ACME certificates only/],
    ["staging not a boolean", one({ staging: "yes" }), /^staging: /],
    ["acme not a boolean", one({ acme: "false" }), /^acme: /],
  ];
  for (const [name, { path, body }, detail] of cases) {
    test(name, async () => {
      // Something in every family of keys, so a stray write anywhere shows.
      await selfSigned("existing", ["existing.example.com"]);
      await createOne({ cert_name: "pending", domain: "pending.example.com" });
      const before = await fullSnapshot(suite.redis.client);
      const res = await call("POST", path, { body });
      expect(res.status).toBe(422);
      expect(res.json.error).toBe("invalid_request");
      expect(res.json.detail).toMatch(detail);
      expect(await fullSnapshot(suite.redis.client)).toEqual(before);
    });
  }

  // The single-domain body has no `domains` field: the error names the field it has.
  test("a bad single domain is reported against `domain`, the field the request has", async () => {
    const res = await createOne({ cert_name: "c", domain: "bad host" });
    expect(res.status).toBe(422);
    expect(res.json.detail).toMatch(/^domain: "bad host" is not a hostname/);
  });

  test("no bearer token: 401, nothing written", async () => {
    const before = await snapshot(suite.redis);
    expect((await call("POST", "/api/v1/certificates/", { token: null, body: { cert_name: "c", domain: "c.example.com" } })).status).toBe(401);
    expect((await call("GET", "/api/v1/certificates/", { token: "acm_not_a_real_token_00000000000" })).status).toBe(401);
    expect(await snapshot(suite.redis)).toEqual(before);
  });
});

describe("self-signed certificates (acme: false)", () => {
  test("201 at once, with every domain as a SAN, no job, no status key, no private key in the reply", async () => {
    const res = await createMany({ cert_name: "local", domains: ["One.Local.test", "two.local.test", "*.wild.local.test"], acme: false });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      cert_name: "local",
      domains: ["one.local.test", "two.local.test", "*.wild.local.test"],
      email: null,
      acme_directory_url: null,
      status: "active",
      owner_token_hash: ADMIN_HASH,
    });
    expect(res.json.private_key_pem).toBeUndefined();
    const leaf = new X509Certificate(res.json.fullchain_pem);
    expect(sans(res.json.fullchain_pem)).toEqual(["DNS:*.wild.local.test", "DNS:one.local.test", "DNS:two.local.test"]);
    expect(leaf.subject).toBe("CN=one.local.test");
    // SELF_SIGNED_DAYS of the harness: 30.
    expect(Math.round((Date.parse(leaf.validTo) - Date.now()) / 86_400_000)).toBe(30);
    expect(Math.abs(Date.parse(res.json.expires_at) - Date.parse(leaf.validTo))).toBeLessThan(1000);

    expect(await queuedJobs(suite.redis.client)).toEqual([]);
    expect(await suite.redis.client.exists(keys.certificateStatus("local"))).toBe(0);
    // Stored, with the domain index pointing at it.
    expect(await suite.redis.client.get(keys.certificateByDomain("two.local.test"))).toBe("local");
    expect(await suite.redis.client.get(keys.certificateByDomain("*.wild.local.test"))).toBe("local");
  });

  // X.509 times have whole seconds; the record must not keep milliseconds the certificate lacks.
  test("expires_at is exactly the certificate's notAfter", async () => {
    const res = await createOne({ cert_name: "exact", domain: "exact.local.test", acme: false });
    expect(Date.parse(res.json.expires_at)).toBe(Date.parse(new X509Certificate(res.json.fullchain_pem).validTo));
  });

  test("the single-domain endpoint makes one for that name", async () => {
    const res = await createOne({ cert_name: "solo", domain: "solo.local.test", acme: false });
    expect(res.status).toBe(201);
    expect(sans(res.json.fullchain_pem)).toEqual(["DNS:solo.local.test"]);
  });

  test("its status, never having been queued, reads as ready", async () => {
    const cert = await selfSigned("plain", ["plain.local.test"]);
    const status = await call("GET", "/api/v1/certificates/plain/status");
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({ cert_name: "plain", status: "ready", domains: ["plain.local.test"], error: null, retry_at: null });
    expect(status.json.message).toContain(cert.expires_at);
  });
});

describe("reading certificates", () => {
  test("the list has no PEMs; show has the chain but no key; ?pem=true adds the matching key", async () => {
    await selfSigned("b-cert", ["b.local.test"]);
    await selfSigned("a-cert", ["a.local.test"]);
    await storedAcme("c-acme", ["c.example.com"]);

    const list = await call("GET", "/api/v1/certificates/");
    expect(list.status).toBe(200);
    expect(list.json.map((c: any) => c.cert_name)).toEqual(["a-cert", "b-cert", "c-acme"]);
    for (const summary of list.json) {
      expect(summary.fullchain_pem).toBeUndefined();
      expect(summary.private_key_pem).toBeUndefined();
      expect(summary.expires_at).toBeString();
    }
    expect(JSON.stringify(list.json)).not.toContain("BEGIN");
    expect(list.json[2]).toMatchObject({ cert_name: "c-acme", acme_directory_url: PRODUCTION, email: "ops@example.org", domains: ["c.example.com"] });

    const shown = await call("GET", "/api/v1/certificates/a-cert");
    expect(shown.status).toBe(200);
    expect(shown.json.fullchain_pem).toContain("BEGIN CERTIFICATE");
    expect(shown.json.private_key_pem).toBeUndefined();
    expect(JSON.stringify(shown.json)).not.toContain("PRIVATE KEY");
    expect((await call("GET", "/api/v1/certificates/a-cert?pem=false")).json.private_key_pem).toBeUndefined();

    const withKey = await call("GET", "/api/v1/certificates/a-cert?pem=true");
    expect(withKey.status).toBe(200);
    expect(withKey.json.fullchain_pem).toBe(shown.json.fullchain_pem);
    expect(new X509Certificate(withKey.json.fullchain_pem).checkPrivateKey(createPrivateKey(withKey.json.private_key_pem))).toBe(true);

    expect((await call("GET", "/api/v1/certificates/a-cert?pem=yes")).status).toBe(422);
    expect((await call("GET", "/api/v1/certificates/ghost")).status).toBe(404);
    expect((await call("GET", "/api/v1/certificates/ghost/status")).status).toBe(404);
  });
});

describe("who sees what", () => {
  test("a user sees only its own certificates and statuses; others' are 404 for show, status, renew and delete", async () => {
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    await selfSigned("alice-cert", ["alice.local.test"], alice);
    expect((await createOne({ cert_name: "alice-pending", domain: "alice.example.com" }, alice)).status).toBe(202);
    await selfSigned("bob-cert", ["bob.local.test"], bob);
    expect((await createOne({ cert_name: "bob-pending", domain: "bob.example.com" }, bob)).status).toBe(202);
    await storedAcme("bob-acme", ["bob-acme.example.com"], { owner: hashApiToken(bob) });
    await selfSigned("admin-cert", ["admin.local.test"]);

    expect((await call("GET", "/api/v1/certificates/", { token: alice })).json.map((c: any) => c.cert_name)).toEqual(["alice-cert"]);
    expect((await call("GET", "/api/v1/certificates/", { token: bob })).json.map((c: any) => c.cert_name)).toEqual(["bob-acme", "bob-cert"]);
    expect((await call("GET", "/api/v1/certificates/")).json.map((c: any) => c.cert_name)).toEqual(["admin-cert", "alice-cert", "bob-acme", "bob-cert"]);

    // Own: visible.
    expect((await call("GET", "/api/v1/certificates/alice-cert?pem=true", { token: alice })).json.private_key_pem).toContain("PRIVATE KEY");
    expect((await call("GET", "/api/v1/certificates/alice-pending/status", { token: alice })).json.status).toBe("pending");

    const before = await fullSnapshot(suite.redis.client);
    for (const name of ["bob-cert", "bob-acme", "admin-cert"]) {
      for (const [method, path] of [
        ["GET", `/api/v1/certificates/${name}`],
        ["GET", `/api/v1/certificates/${name}?pem=true`],
        ["GET", `/api/v1/certificates/${name}/status`],
        ["POST", `/api/v1/certificates/${name}/renew`],
        ["DELETE", `/api/v1/certificates/${name}`],
        ["DELETE", `/api/v1/certificates/${name}?force=true`],
      ] as const) {
        const res = await call(method, path, { token: alice });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
        expect(JSON.stringify(res.json)).not.toContain("BEGIN");
      }
    }
    // A pending request of someone else is just as invisible.
    expect((await call("GET", "/api/v1/certificates/bob-pending/status", { token: alice })).status).toBe(404);
    // Nothing was renewed, queued or deleted on the way.
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);

    // The admin sees everyone's.
    expect((await call("GET", "/api/v1/certificates/bob-pending/status")).json.status).toBe("pending");
    expect((await call("GET", "/api/v1/certificates/alice-cert")).status).toBe(200);
  });
});

describe("renewal on request", () => {
  test("a self-signed certificate is remade at once: 200, a new chain for the same names, no job", async () => {
    const first = await selfSigned("local", ["a.local.test", "b.local.test"]);
    const firstKey = (await call("GET", "/api/v1/certificates/local?pem=true")).json.private_key_pem;
    const res = await call("POST", "/api/v1/certificates/local/renew");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ cert_name: "local", domains: ["a.local.test", "b.local.test"], acme_directory_url: null });
    expect(res.json.private_key_pem).toBeUndefined();
    expect(res.json.fullchain_pem).not.toBe(first.fullchain_pem);
    expect(new X509Certificate(res.json.fullchain_pem).serialNumber).not.toBe(new X509Certificate(first.fullchain_pem).serialNumber);
    expect(sans(res.json.fullchain_pem)).toEqual(["DNS:a.local.test", "DNS:b.local.test"]);

    const stored = (await call("GET", "/api/v1/certificates/local?pem=true")).json;
    expect(stored.fullchain_pem).toBe(res.json.fullchain_pem);
    expect(stored.private_key_pem).not.toBe(firstKey);
    expect(new X509Certificate(stored.fullchain_pem).checkPrivateKey(createPrivateKey(stored.private_key_pem))).toBe(true);
    expect(stored.owner_token_hash).toBe(ADMIN_HASH);
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
  });

  test("an ACME certificate gets a renew job with its own directory, email and key type: 202, then 409 while pending", async () => {
    // Issued from staging: the renewal must go back there, not to ACME_DIRECTORY_URL.
    const record = await storedAcme("acme", ["x.example.com", "y.example.com"], { directory: STAGING, email: "owner@example.org" });
    const res = await call("POST", "/api/v1/certificates/acme/renew");
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ cert_name: "acme", status: "pending", status_url: "/api/v1/certificates/acme/status" });
    expect(await queuedJobs(suite.redis.client)).toEqual([
      {
        cert_name: "acme",
        domains: ["x.example.com", "y.example.com"],
        email: "owner@example.org",
        directory_url: STAGING,
        key_type: "ecdsa",
        owner_token_hash: ADMIN_HASH,
        operation: "renew",
        attempt: 1,
        request_id: expect.any(String),
      },
    ]);
    expect((await call("GET", "/api/v1/certificates/acme/status")).json).toMatchObject({ status: "pending", operation: "renew" });
    // The certificate stays served meanwhile.
    expect((await call("GET", "/api/v1/certificates/acme")).json.fullchain_pem).toBe(record.fullchain_pem);

    const before = await fullSnapshot(suite.redis.client);
    const again = await call("POST", "/api/v1/certificates/acme/renew");
    expect(again.status).toBe(409);
    expect(again.json.detail).toContain("/api/v1/certificates/acme/status");
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);
  });

  test("renewing a certificate that does not exist is a 404", async () => {
    const before = await fullSnapshot(suite.redis.client);
    expect((await call("POST", "/api/v1/certificates/ghost/renew")).status).toBe(404);
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);
  });
});

describe("deletion", () => {
  test("200, then the certificate, its domain index and its status are gone", async () => {
    await selfSigned("local", ["a.local.test"]);
    const res = await call("DELETE", "/api/v1/certificates/local");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ deleted: "local" });
    expect((await call("GET", "/api/v1/certificates/local")).status).toBe(404);
    expect((await call("GET", "/api/v1/certificates/local/status")).status).toBe(404);
    expect((await call("GET", "/api/v1/certificates/")).json).toEqual([]);
    expect(await suite.redis.client.exists(keys.certificate("local"), keys.certificateByDomain("a.local.test"))).toBe(0);
    expect(await suite.redis.client.sismember(keys.certificateNames, "local")).toBe(0);
    expect((await call("DELETE", "/api/v1/certificates/local")).status).toBe(404);
  });

  test("its status and every job waiting for it (now or later) go too; other certificates' jobs stay", async () => {
    await storedAcme("doomed", ["doomed.example.com"]);
    await storedAcme("kept", ["kept.example.com"]);
    expect((await call("POST", "/api/v1/certificates/doomed/renew")).status).toBe(202);
    expect((await call("POST", "/api/v1/certificates/kept/renew")).status).toBe(202);
    expect((await createOne({ cert_name: "other", domain: "other.example.com" })).status).toBe(202);
    // A retry of an earlier failed renewal, waiting in the later set.
    const [doomedJob] = await queuedJobs(suite.redis.client);
    await suite.redis.client.zadd(keys.certificateJobsLater, Date.now() + 60_000, JSON.stringify({ ...doomedJob, attempt: 2 }));
    await suite.redis.client.zadd(keys.certificateJobsLater, Date.now() + 60_000, JSON.stringify({ ...doomedJob, cert_name: "kept", attempt: 2 }));

    expect((await call("DELETE", "/api/v1/certificates/doomed")).status).toBe(200);
    expect(await suite.redis.client.exists(keys.certificateStatus("doomed"))).toBe(0);
    expect((await queuedJobs(suite.redis.client)).map((j) => j.cert_name)).toEqual(["kept", "other"]);
    expect((await laterJobs(suite.redis.client)).map((l) => l.job.cert_name)).toEqual(["kept"]);
    expect((await call("GET", "/api/v1/certificates/kept/status")).json.status).toBe("pending");
  });

  test("a certificate a proxy uses: 409 naming the proxy, nothing written; ?force=true deletes it and the proxy stays", async () => {
    await selfSigned("shared", ["app.local.test"]);
    for (const hostname of ["app.local.test", "suite.api.local.test"]) {
      const proxy = await call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000", cert_name: "shared" } });
      expect(proxy.status).toBe(201);
      expect(proxy.json.cert_name).toBe("shared");
    }
    const before = await fullSnapshot(suite.redis.client);
    const refused = await call("DELETE", "/api/v1/certificates/shared");
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain("app.local.test");
    expect(refused.json.detail).toContain("suite.api.local.test");
    expect(refused.json.detail).toContain("force=true");
    expect((await call("DELETE", "/api/v1/certificates/shared?force=false")).status).toBe(409);
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);

    const forced = await call("DELETE", "/api/v1/certificates/shared?force=true");
    expect(forced.status).toBe(200);
    expect((await call("GET", "/api/v1/certificates/shared")).status).toBe(404);
    const proxy = await call("GET", "/api/v1/proxy/targets/app.local.test");
    expect(proxy.status).toBe(200);
    expect(proxy.json.cert_name).toBe("shared");
    expect((await call("GET", "/api/v1/proxy/targets/suite.api.local.test")).status).toBe(200);
  });

  // A user must not learn other users' hostnames from the conflict.
  test("a user's conflict does not name proxies it cannot see", async () => {
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    await selfSigned("alice-cert", ["alice.local.test"], alice);
    await call("POST", "/api/v1/proxy/targets/", { token: bob, body: { hostname: "secret-bob.local.test", target_url: "http://127.0.0.1:3000", cert_name: "alice-cert" } });
    const res = await call("DELETE", "/api/v1/certificates/alice-cert", { token: alice });
    expect(res.json.detail ?? "").not.toContain("secret-bob.local.test");
  });
});

describe("deleting a token", () => {
  test("deletes its certificates, not others'", async () => {
    const alice = await userToken("alice");
    await selfSigned("alice-cert", ["alice.local.test"], alice);
    await selfSigned("admin-cert", ["admin.local.test"]);
    const res = await call("DELETE", "/api/v1/tokens/alice");
    expect(res.status).toBe(200);
    expect(res.json.owned_resources_deleted).toEqual({ certificate: 1 });
    expect((await call("GET", "/api/v1/certificates/")).json.map((c: any) => c.cert_name)).toEqual(["admin-cert"]);
    expect(await suite.redis.client.exists(keys.certificateByDomain("alice.local.test"))).toBe(0);
  });

  test("also drops its queued requests and their statuses", async () => {
    const alice = await userToken("alice");
    expect((await createOne({ cert_name: "alice-pending", domain: "alice.example.com" }, alice)).status).toBe(202);
    const res = await call("DELETE", "/api/v1/tokens/alice");
    expect(res.status).toBe(200);
    expect(res.json.owned_resources_deleted).toEqual({ certificate_request: 1 });
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
    expect(await suite.redis.client.exists(keys.certificateStatus("alice-pending"))).toBe(0);
  });
});

describe("deleting a proxy with its certificate (?delete_cert=true)", () => {
  const proxy = async (hostname: string, certName: string | null) => {
    const res = await call("POST", "/api/v1/proxy/targets/", { body: { hostname, target_url: "http://127.0.0.1:3000", cert_name: certName } });
    expect(res.status).toBe(201);
  };

  test("deletes the proxy's certificate too; without it the certificate stays", async () => {
    await selfSigned("mine", ["mine.local.test"]);
    await selfSigned("kept", ["kept.local.test"]);
    await proxy("mine.local.test", "mine");
    await proxy("kept.local.test", "kept");

    const res = await call("DELETE", "/api/v1/proxy/targets/mine.local.test?delete_cert=true");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ deleted: "mine.local.test", certificate_deleted: "mine" });
    expect((await call("GET", "/api/v1/certificates/mine")).status).toBe(404);
    expect(await suite.redis.client.exists(keys.certificateByDomain("mine.local.test"))).toBe(0);

    const plain = await call("DELETE", "/api/v1/proxy/targets/kept.local.test");
    expect(plain.json).toEqual({ deleted: "kept.local.test" });
    expect((await call("GET", "/api/v1/certificates/kept")).status).toBe(200);
  });

  test("a certificate another proxy uses: 409 naming it and nothing deleted, unless force=true", async () => {
    await selfSigned("shared", ["a.local.test", "b.local.test"]);
    await proxy("a.local.test", "shared");
    await proxy("b.local.test", "shared");

    const before = await fullSnapshot(suite.redis.client);
    const refused = await call("DELETE", "/api/v1/proxy/targets/a.local.test?delete_cert=true");
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toContain("b.local.test");
    expect(await fullSnapshot(suite.redis.client)).toEqual(before);

    const forced = await call("DELETE", "/api/v1/proxy/targets/a.local.test?delete_cert=true&force=true");
    expect(forced.status).toBe(200);
    expect(forced.json).toEqual({ deleted: "a.local.test", certificate_deleted: "shared" });
    expect((await call("GET", "/api/v1/proxy/targets/a.local.test")).status).toBe(404);
    expect((await call("GET", "/api/v1/certificates/shared")).status).toBe(404);
    const survivor = await call("GET", "/api/v1/proxy/targets/b.local.test");
    expect(survivor.status).toBe(200);
    expect(survivor.json.cert_name).toBe("shared");
  });

  test("a proxy whose certificate is already gone, or that has none, is still deleted", async () => {
    await proxy("orphan.local.test", "never-existed");
    await proxy("bare.local.test", null);
    const orphan = await call("DELETE", "/api/v1/proxy/targets/orphan.local.test?delete_cert=true");
    expect(orphan.status).toBe(200);
    expect(orphan.json).toEqual({ deleted: "orphan.local.test", certificate_deleted: null });
    const bare = await call("DELETE", "/api/v1/proxy/targets/bare.local.test?delete_cert=true");
    expect(bare.status).toBe(200);
    expect(await suite.redis.client.exists(keys.proxy("bare.local.test"))).toBe(0);
  });

  test("a user's proxy never deletes a certificate the user cannot see", async () => {
    const alice = await userToken("alice");
    await selfSigned("admins", ["x.local.test"]);
    expect((await call("POST", "/api/v1/proxy/targets/", { token: alice, body: { hostname: "x.local.test", target_url: "http://127.0.0.1:3000", cert_name: "admins" } })).status).toBe(201);
    const res = await call("DELETE", "/api/v1/proxy/targets/x.local.test?delete_cert=true", { token: alice });
    expect(res.status).toBe(200);
    expect(res.json.certificate_deleted).toBeNull();
    expect((await call("GET", "/api/v1/certificates/admins")).status).toBe(200);
  });
});

test("the OpenAPI document lists every certificate endpoint", async () => {
  const doc = (await call("GET", "/api/v1/openapi.json")).json;
  const operations = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  for (const expected of [
    "GET /api/v1/certificates/",
    "POST /api/v1/certificates/",
    "POST /api/v1/certificates/multi-domain",
    "GET /api/v1/certificates/{name}",
    "GET /api/v1/certificates/{name}/status",
    "POST /api/v1/certificates/{name}/renew",
    "DELETE /api/v1/certificates/{name}",
  ]) {
    expect(operations).toContain(expected);
  }
  expect(doc.paths["/api/v1/certificates/"].post.requestBody).toBeDefined();
  expect(doc.paths["/api/v1/certificates/multi-domain"].post.tags).toContain("certificates");
});
