/**
 * CertificateRepository against a real Redis: records, the domain index, the
 * event each write queues with it, domain hand-over, the shared self-signed
 * fallback, and cascade delete with the owning token.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { parseStreamEntry } from "../../src/orchestration/events";
import { keys } from "../../src/storage/keys";
import { createStores, type Stores } from "../../src/storage/stores";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { certificateRecord, createTestCa, type IssuedCertificate } from "../helpers/test-ca";

let redis: TestRedis;
let stores: Stores;
let issued: IssuedCertificate;

beforeAll(async () => {
  redis = await startTestRedis();
  stores = createStores(redis.client);
  issued = await (await createTestCa()).issue("cert.example.test", ["cert.example.test"]);
});
afterAll(() => redis?.stop());
beforeEach(() => redis.client.flushdb());

const record = (name: string, domains: string[], overrides = {}) => certificateRecord(name, domains, issued, overrides);
const owner = (domain: string) => redis.client.get(keys.certificateByDomain(domain));
async function events() {
  const entries = (await redis.client.xrange(keys.workflowStream, "-", "+")) as [string, string[]][];
  return entries.map(parseStreamEntry).map((e) => ({ type: e.event_type, data: e.data }));
}

describe("CertificateRepository", () => {
  test("create stores the record, indexes its domains and queues certificate_ready", async () => {
    expect(await stores.certificates.create(record("site", ["a.example.test", "*.Example.Test."]))).toBe(true);
    const stored = await stores.certificates.get("site");
    expect(stored?.domains).toEqual(["a.example.test", "*.example.test"]);
    expect(await owner("a.example.test")).toBe("site");
    expect(await owner("*.example.test")).toBe("site");
    expect(await events()).toEqual([{ type: "certificate_ready", data: { cert_name: "site", domains: ["a.example.test", "*.example.test"] } }]);
    expect(await stores.certificates.create(record("site", ["b.example.test"]))).toBe(false);
    expect(await owner("b.example.test")).toBeNull();
    expect((await events()).length).toBe(1);
  });

  test("a guard on another key: create and replace write nothing while it does not hold, and write when it does", async () => {
    const guard = { key: "guard:key", holds: (value: string | null) => value === "mine" };
    expect(await stores.certificates.create(record("guarded", ["g.example.test"]), guard)).toBe(false);
    await redis.client.set("guard:key", "theirs");
    expect(await stores.certificates.create(record("guarded", ["g.example.test"]), guard)).toBe(false);
    expect(await stores.certificates.get("guarded")).toBeNull();
    expect(await owner("g.example.test")).toBeNull();
    expect(await events()).toEqual([]);

    await redis.client.set("guard:key", "mine");
    expect(await stores.certificates.create(record("guarded", ["g.example.test"]), guard)).toBe(true);
    await redis.client.set("guard:key", "theirs");
    expect(await stores.certificates.replace(record("guarded", ["h.example.test"]), guard)).toBeNull();
    expect((await stores.certificates.get("guarded"))?.domains).toEqual(["g.example.test"]);
    expect((await events()).length).toBe(1);
  });

  test("get, list and getByDomain (exact first, then the wildcard one label up)", async () => {
    await stores.certificates.create(record("wild", ["*.example.test"]));
    await stores.certificates.create(record("exact", ["a.example.test"]));
    expect((await stores.certificates.list()).map((c) => c.cert_name)).toEqual(["exact", "wild"]);
    expect((await stores.certificates.getByDomain("A.example.test"))?.cert_name).toBe("exact");
    expect((await stores.certificates.getByDomain("b.example.test"))?.cert_name).toBe("wild");
    expect(await stores.certificates.getByDomain("a.b.example.test")).toBeNull();
    expect(await stores.certificates.getByDomain("example.test")).toBeNull();
    expect(await stores.certificates.get("nothing")).toBeNull();
  });

  test("replace updates the record and the index, keeps the owner, and queues certificate_ready", async () => {
    await stores.certificates.create(record("site", ["a.example.test", "b.example.test"], { owner_token_hash: "sha256:one" }));
    const replaced = await stores.certificates.replace(record("site", ["b.example.test", "c.example.test"], { owner_token_hash: "sha256:other", status: "renewed" }));
    expect(replaced).toMatchObject({ status: "renewed", owner_token_hash: "sha256:one" });
    expect(await owner("a.example.test")).toBeNull();
    expect(await owner("b.example.test")).toBe("site");
    expect(await owner("c.example.test")).toBe("site");
    expect((await events()).at(-1)).toEqual({ type: "certificate_ready", data: { cert_name: "site", domains: ["b.example.test", "c.example.test"] } });
    expect(await stores.certificates.replace(record("ghost", ["g.example.test"]))).toBeNull();
    expect(await owner("g.example.test")).toBeNull();
  });

  test("delete removes record and index and queues certificate_deleted", async () => {
    await stores.certificates.create(record("site", ["a.example.test"]));
    expect(await stores.certificates.delete("site")).toBe(true);
    expect(await stores.certificates.get("site")).toBeNull();
    expect(await owner("a.example.test")).toBeNull();
    expect(await redis.client.sismember(keys.certificateNames, "site")).toBe(0);
    expect((await events()).at(-1)).toEqual({ type: "certificate_deleted", data: { cert_name: "site", domains: ["a.example.test"] } });
    expect(await stores.certificates.delete("site")).toBe(false);
  });

  test("a domain goes to the certificate written last; deleting it hands the domain back to the other", async () => {
    await stores.certificates.create(record("older", ["shared.example.test", "only-old.example.test"], { expires_at: "2030-01-01T00:00:00Z" }));
    await stores.certificates.create(record("newer", ["shared.example.test"]));
    expect(await owner("shared.example.test")).toBe("newer");
    await stores.certificates.delete("newer");
    expect(await owner("shared.example.test")).toBe("older");
    // Deleting a certificate that lost the domain leaves the current owner alone.
    await stores.certificates.create(record("third", ["shared.example.test"]));
    await stores.certificates.delete("older");
    expect(await owner("shared.example.test")).toBe("third");
    expect(await owner("only-old.example.test")).toBeNull();
  });

  test("names and domains that would make bad keys are refused before anything is written", async () => {
    expect(() => stores.certificates.create(record("a:b", ["a.example.test"]))).toThrow(RangeError);
    expect(() => stores.certificates.create(record("ok", []))).toThrow(RangeError);
    expect(() => stores.certificates.create(record("ok", ["bad domain"]))).toThrow(RangeError);
    expect(() => stores.certificates.create(record("ok", ["a.*.example.test"]))).toThrow(RangeError);
    expect(await redis.client.dbsize()).toBe(0);
  });

  test("deleting the owning token deletes its certificates in the same transaction", async () => {
    const hash = "sha256:" + "ab".repeat(32);
    await stores.tokens.create({
      name: "owner",
      token: "acm_owner",
      hash,
      role: "service-owner",
      cert_email: null,
      created_at: new Date().toISOString(),
      created_by: null,
      owner_token_hash: null,
    });
    await stores.certificates.create(record("owned", ["owned.example.test"], { owner_token_hash: hash }));
    await stores.certificates.create(record("kept", ["kept.example.test"]));
    expect(await redis.client.smembers(keys.ownedBy(hash))).toEqual(["certificate:owned"]);
    const counts = await stores.tokens.deleteCascading("owner");
    expect(counts).toMatchObject({ certificate: 1 });
    expect(await stores.certificates.get("owned")).toBeNull();
    expect(await owner("owned.example.test")).toBeNull();
    expect(await stores.certificates.get("kept")).not.toBeNull();
    expect((await events()).filter((e) => e.type === "certificate_deleted")).toEqual([
      { type: "certificate_deleted", data: { cert_name: "owned", domains: ["owned.example.test"] } },
    ]);
  });
});

describe("the shared self-signed fallback", () => {
  const fallback = (tag: string) => async () => record("self-signed", ["localhost"], { status: tag });

  test("is created once: the first writer wins and everyone gets its certificate", async () => {
    const results = await Promise.all(["one", "two", "three"].map((tag) => stores.certificates.ensureSelfSigned("localhost", () => true, fallback(tag))));
    expect(new Set(results.map((r) => r.status)).size).toBe(1);
    const stored = JSON.parse((await redis.client.get(keys.selfSignedCertificate("localhost")))!);
    expect(stored.status).toBe(results[0]!.status);
    expect((await events()).map((e) => e.type)).toEqual(["self_signed_certificate_ready"]);
  });

  test("is replaced when no longer usable, and only then", async () => {
    await stores.certificates.ensureSelfSigned("localhost", () => true, fallback("first"));
    const kept = await stores.certificates.ensureSelfSigned("localhost", () => true, fallback("second"));
    expect(kept.status).toBe("first");
    const renewed = await stores.certificates.ensureSelfSigned("localhost", (stored) => stored.status !== "first", fallback("second"));
    expect(renewed.status).toBe("second");
    expect((await events()).map((e) => e.type)).toEqual(["self_signed_certificate_ready", "self_signed_certificate_ready"]);
  });
});
