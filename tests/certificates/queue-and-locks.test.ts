/**
 * The certificate manager's moving parts against a real Redis, built directly
 * from their classes: the job queue, statuses and their retention, request
 * admission, the renewal sweep and its lock, and the issuance workers (the
 * per-certificate lock, failures and retries, handing jobs back on stop).
 * No CA is involved: directories here refuse, or never answer.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import pino from "pino";
import { CertificateManager } from "../../src/certificates/certificate-manager";
import { CertificateRequests, type NewCertificateRequest } from "../../src/certificates/certificate-requests";
import { JobQueue, type IssuanceJob } from "../../src/certificates/job-queue";
import { RenewalScheduler } from "../../src/certificates/renewal";
import { StatusStore, type CertificateStatus } from "../../src/certificates/status-store";
import type { CertificateSettings } from "../../src/core/certificate-config";
import { parseConfig } from "../../src/core/config";
import { CertificateRepository } from "../../src/storage/certificate-repository";
import { keys } from "../../src/storage/keys";
import { acmeRecord, fullSnapshot, laterJobs, queuedJobs } from "../helpers/certificate-state";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const log = pino({ level: "silent" });
const DAY_MS = 86_400_000;
const UNREACHABLE = "https://127.0.0.1:1/dir";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(() => redis.stop());
beforeEach(() => redis.client.flushdb());

const settingsOf = (env: Record<string, string> = {}): CertificateSettings =>
  parseConfig({ AUTO_CERTIFICATES: "false", ACME_DIRECTORY_URL: UNREACHABLE, ACME_STAGING_URL: UNREACHABLE, ...env }).certificates;

const job = (name: string, extra: Partial<IssuanceJob> = {}): IssuanceJob => ({
  cert_name: name,
  domains: [`${name}.example.com`],
  email: null,
  directory_url: UNREACHABLE,
  key_type: "rsa",
  owner_token_hash: null,
  operation: "issue",
  attempt: 1,
  ...extra,
});

const request = (name: string, extra: Partial<NewCertificateRequest> = {}): NewCertificateRequest => ({
  cert_name: name,
  domains: [`${name}.example.com`],
  email: "ops@example.org",
  staging: false,
  key_type: "rsa",
  owner_token_hash: "sha256:owner",
  ...extra,
});

const statusOf = (name: string, extra: Partial<CertificateStatus> = {}): Omit<CertificateStatus, "updated_at"> => ({
  cert_name: name,
  status: "pending",
  operation: "issue",
  domains: [`${name}.example.com`],
  message: "test",
  error: null,
  attempts: 0,
  retry_at: null,
  owner_token_hash: null,
  ...extra,
});

async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await Bun.sleep(10);
  }
}

const rawStatus = (name: string) => redis.client.get(keys.certificateStatus(name));
const parsedStatus = async (name: string) => JSON.parse((await rawStatus(name)) ?? "null") as CertificateStatus | null;

describe("JobQueue", () => {
  test("later + moveDue: only jobs whose time has come join the list, after what is already queued", async () => {
    const queue = new JobQueue(redis.client);
    const now = Date.now();
    const tx = redis.client.multi();
    queue.queuePush(tx, job("already-queued"));
    await tx.exec();
    await queue.later(job("overdue"), now - 5_000);
    await queue.later(job("due-now"), now);
    await queue.later(job("tomorrow"), now + DAY_MS);
    await queue.later(job("in-a-minute"), now + 60_000);

    expect(await queue.moveDue(now)).toBe(2);
    expect((await queuedJobs(redis.client)).map((j) => j.cert_name)).toEqual(["already-queued", "overdue", "due-now"]);
    expect((await laterJobs(redis.client)).map((l) => [l.job.cert_name, l.dueAt])).toEqual([
      ["in-a-minute", now + 60_000],
      ["tomorrow", now + DAY_MS],
    ]);
    expect(await queue.moveDue(now)).toBe(0);
    expect(await queue.moveDue(now + 60_000)).toBe(1);
    expect((await queuedJobs(redis.client)).map((j) => j.cert_name)).toEqual(["already-queued", "overdue", "due-now", "in-a-minute"]);
    // The job comes out as it went in.
    expect((await queuedJobs(redis.client))[3]).toEqual(job("in-a-minute"));
  });

  test("concurrent moveDue calls from several nodes never move a job twice", async () => {
    const nodes = Array.from({ length: 4 }, () => redis.client.duplicate());
    try {
      const queues = nodes.map((n) => new JobQueue(n));
      const now = Date.now();
      const total = 250;
      const batch = redis.client.multi();
      for (let i = 0; i < total; i++) batch.zadd(keys.certificateJobsLater, now - i, JSON.stringify(job(`job-${i}`)));
      await batch.exec();

      let moved = 0;
      while ((await redis.client.zcard(keys.certificateJobsLater)) > 0) {
        moved += (await Promise.all(queues.map((q) => q.moveDue(now)))).reduce((a, b) => a + b, 0);
      }
      const names = (await queuedJobs(redis.client)).map((j) => j.cert_name);
      expect(moved).toBe(total);
      expect(names).toHaveLength(total);
      expect(new Set(names).size).toBe(total);
    } finally {
      for (const n of nodes) n.disconnect();
    }
  });

  test("take pops the oldest job; requeue puts one back at the head", async () => {
    const queue = new JobQueue(redis.client);
    const blocking = redis.client.duplicate();
    try {
      const tx = redis.client.multi();
      queue.queuePush(tx, job("first"));
      queue.queuePush(tx, job("second"));
      await tx.exec();
      const taken = await queue.take(blocking, 1);
      expect(taken).toEqual(job("first"));
      await queue.requeue(taken!);
      expect((await queuedJobs(redis.client)).map((j) => j.cert_name)).toEqual(["first", "second"]);
      // A mangled entry is skipped, not thrown.
      await redis.client.del(keys.certificateJobs);
      await redis.client.rpush(keys.certificateJobs, "{not json");
      expect(await queue.take(blocking, 1)).toBeNull();
      expect(await redis.client.llen(keys.certificateJobs)).toBe(0);
    } finally {
      blocking.disconnect();
    }
  });

  test("forget drops every queued and delayed job of one certificate, and only those", async () => {
    const queue = new JobQueue(redis.client);
    const tx = redis.client.multi();
    for (const name of ["gone", "kept", "gone", "gone.example", "kept"]) queue.queuePush(tx, job(name));
    await tx.exec();
    await redis.client.rpush(keys.certificateJobs, "{not json");
    await queue.later(job("gone", { operation: "renew", attempt: 2 }), Date.now() + 60_000);
    await queue.later(job("gone", { operation: "renew", attempt: 3 }), Date.now() + 120_000);
    await queue.later(job("kept", { operation: "renew", attempt: 2 }), Date.now() + 60_000);

    await queue.forget("gone");
    expect(await redis.client.lrange(keys.certificateJobs, 0, -1)).toEqual([
      JSON.stringify(job("kept")),
      JSON.stringify(job("gone.example")),
      JSON.stringify(job("kept")),
      "{not json",
    ]);
    expect((await laterJobs(redis.client)).map((l) => [l.job.cert_name, l.job.attempt])).toEqual([["kept", 2]]);
    await queue.forget("nothing-queued");
    expect(await redis.client.llen(keys.certificateJobs)).toBe(4);
  });
});

describe("StatusStore", () => {
  const RETENTION = 1234;
  const store = () => new StatusStore(redis.client, RETENTION);
  const ttl = (name: string) => redis.client.ttl(keys.certificateStatus(name));

  test("a ready status is kept CERT_STATUS_RETENTION_SECONDS; a failed one stays until a success replaces it", async () => {
    await store().set(statusOf("ready", { status: "ready" }));
    await store().set(statusOf("failed", { status: "failed", error: { detail: "no" } }));
    const left = await ttl("ready");
    expect(left).toBeGreaterThan(RETENTION - 5);
    expect(left).toBeLessThanOrEqual(RETENTION);
    expect(await ttl("failed")).toBe(-1);
    await store().set(statusOf("failed", { status: "ready" }));
    expect(await ttl("failed")).toBeGreaterThan(RETENTION - 5);
  });

  test("a status in progress never expires, including a failed renewal waiting for its retry", async () => {
    await store().set(statusOf("pending"));
    await store().set(statusOf("issuing", { status: "issuing" }));
    await store().set(statusOf("retrying", { status: "failed", operation: "renew", retry_at: new Date(Date.now() + 60_000).toISOString(), error: { detail: "x" } }));
    for (const name of ["pending", "issuing", "retrying"]) expect({ name, ttl: await ttl(name) }).toEqual({ name, ttl: -1 });
  });

  test("a new request after a finished one drops the expiry; get returns what was set, stamped", async () => {
    await store().set(statusOf("again", { status: "ready" }));
    expect(await ttl("again")).toBeGreaterThan(0);
    await store().set(statusOf("again", { status: "pending", message: "waiting" }));
    expect(await ttl("again")).toBe(-1);
    const read = await store().get("again");
    expect(read).toMatchObject(statusOf("again", { status: "pending", message: "waiting" }));
    expect(Date.parse(read!.updated_at)).toBeGreaterThan(Date.now() - 10_000);
    expect(await store().get("never")).toBeNull();
  });

  test("the retention comes from CERT_STATUS_RETENTION_SECONDS through the manager", async () => {
    const manager = new CertificateManager({
      redis: redis.client,
      certificates: new CertificateRepository(redis.client),
      settings: settingsOf({ CERT_STATUS_RETENTION_SECONDS: "77" }),
      httpPort: 80,
      selfSignedDays: 30,
      adminEmail: null,
      log,
    });
    await manager.statuses.set(statusOf("configured", { status: "ready" }));
    expect(await ttl("configured")).toBeGreaterThan(70);
    expect(await ttl("configured")).toBeLessThanOrEqual(77);
  });
});

describe("CertificateRequests", () => {
  const settings = settingsOf({ ACME_DIRECTORY_URL: "https://prod.test/dir", ACME_STAGING_URL: "https://staging.test/dir" });
  const parts = () => {
    const queue = new JobQueue(redis.client);
    const statuses = new StatusStore(redis.client, 300);
    return { statuses, requests: new CertificateRequests(redis.client, queue, statuses, settings), certificates: new CertificateRepository(redis.client) };
  };

  test("issue queues a pending status and its job together, for the directory asked for", async () => {
    const { requests } = parts();
    const outcome = await requests.issue(request("fresh", { staging: true }));
    expect(outcome).toMatchObject({ queued: true, job: { cert_name: "fresh", directory_url: "https://staging.test/dir", operation: "issue", attempt: 1 } });
    expect(await queuedJobs(redis.client)).toEqual([(outcome as { job: IssuanceJob }).job]);
    expect(await parsedStatus("fresh")).toMatchObject({ status: "pending", operation: "issue", attempts: 0, owner_token_hash: "sha256:owner" });
    expect(requests.directoryFor(false)).toBe("https://prod.test/dir");
  });

  test("issue refuses a name that exists, and a name with a request in progress; nothing is written", async () => {
    const { requests, statuses, certificates } = parts();
    await certificates.create(await acmeRecord("exists", ["exists.example.com"], { directory: "https://prod.test/dir" }));
    await statuses.set(statusOf("pending"));
    await statuses.set(statusOf("issuing", { status: "issuing" }));
    await redis.client.set(keys.certificateLock("issuing"), "some-node", "PX", 60_000);
    await statuses.set(statusOf("retrying", { status: "failed", retry_at: new Date(Date.now() + 60_000).toISOString() }));
    const before = await fullSnapshot(redis.client);
    expect(await requests.issue(request("exists"))).toEqual({ queued: false, reason: "exists" });
    for (const name of ["pending", "issuing", "retrying"]) expect(await requests.issue(request(name))).toEqual({ queued: false, reason: "in_progress" });
    expect(await fullSnapshot(redis.client)).toEqual(before);
  });

  test("'issuing' with no lock (its node died) no longer blocks: the request starts over", async () => {
    const { requests, statuses, certificates } = parts();
    await statuses.set(statusOf("abandoned", { status: "issuing" }));
    const outcome = await requests.issue(request("abandoned"));
    expect(outcome.queued).toBe(true);
    expect(await parsedStatus("abandoned")).toMatchObject({ status: "pending", attempts: 0 });

    const record = await acmeRecord("abandoned-renewal", ["r.example.com"], { directory: "https://prod.test/dir" });
    await certificates.create(record);
    await statuses.set(statusOf("abandoned-renewal", { status: "issuing", operation: "renew" }));
    await redis.client.set(keys.certificateLock("abandoned-renewal"), "live-node", "PX", 60_000);
    expect(await requests.renew(record)).toEqual({ queued: false, reason: "in_progress" });
    // The lock expires with its node.
    await redis.client.del(keys.certificateLock("abandoned-renewal"));
    expect((await requests.renew(record)).queued).toBe(true);
    expect((await queuedJobs(redis.client)).map((j) => [j.cert_name, j.operation])).toEqual([
      ["abandoned", "issue"],
      ["abandoned-renewal", "renew"],
    ]);
  });

  test("a finished request does not block a new one", async () => {
    const { requests, statuses } = parts();
    await statuses.set(statusOf("failed-before", { status: "failed", error: { detail: "refused" } }));
    await statuses.set(statusOf("ready-then-deleted", { status: "ready" }));
    expect((await requests.issue(request("failed-before"))).queued).toBe(true);
    expect((await requests.issue(request("ready-then-deleted"))).queued).toBe(true);
    expect(await redis.client.ttl(keys.certificateStatus("failed-before"))).toBe(-1);
  });

  test("ten simultaneous requests for one name queue exactly one job", async () => {
    const { requests } = parts();
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => requests.issue(request("contended", { domains: [`n${i}.example.com`] }))));
    expect(outcomes.filter((o) => o.queued)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.queued).map((o) => (o as { reason: string }).reason)).toEqual(Array(9).fill("in_progress"));
    expect(await queuedJobs(redis.client)).toHaveLength(1);
  });

  test("renew refuses a certificate that does not exist, and one already in progress", async () => {
    const { requests, statuses, certificates } = parts();
    const ghost = await acmeRecord("ghost", ["ghost.example.com"], { directory: "https://prod.test/dir" });
    expect(await requests.renew(ghost)).toEqual({ queued: false, reason: "missing" });
    expect(await redis.client.exists(keys.certificateJobs, keys.certificateStatus("ghost"))).toBe(0);

    const record = await acmeRecord("real", ["real.example.com"], { directory: "https://staging.test/dir", email: "me@example.org", owner: "sha256:me" });
    await certificates.create(record);
    const outcome = await requests.renew(record);
    expect(outcome).toEqual({
      queued: true,
      job: {
        cert_name: "real",
        domains: ["real.example.com"],
        email: "me@example.org",
        directory_url: "https://staging.test/dir",
        key_type: "ecdsa",
        owner_token_hash: "sha256:me",
        operation: "renew",
        attempt: 1,
        request_id: expect.any(String),
      },
    });
    expect(await requests.renew(record)).toEqual({ queued: false, reason: "in_progress" });
    await statuses.set(statusOf("real", { status: "ready" }));
    expect((await requests.renew(record)).queued).toBe(true);
    expect(await queuedJobs(redis.client)).toHaveLength(2);
  });
});

describe("RenewalScheduler.sweep", () => {
  const setup = (env: Record<string, string> = {}) => {
    const settings = settingsOf({ RENEWAL_THRESHOLD_DAYS: "30", ...env });
    const certificates = new CertificateRepository(redis.client);
    const statuses = new StatusStore(redis.client, 300);
    const requests = new CertificateRequests(redis.client, new JobQueue(redis.client), statuses, settings);
    const scheduler = () => new RenewalScheduler({ redis: redis.client, certificates, requests, settings, log, reissueLocal: async () => null });
    return { certificates, statuses, scheduler };
  };
  const inDays = (days: number) => new Date(Date.now() + days * DAY_MS);

  async function storeAll(certificates: CertificateRepository) {
    const acme = (name: string, days: number) => acmeRecord(name, [`${name}.example.com`], { directory: "https://prod.test/dir", expiresAt: inDays(days) });
    for (const record of [await acme("due-soon", 10), await acme("expired", -1), await acme("edge", 29.9), await acme("fresh", 60), await acme("in-progress", 5)]) {
      expect(await certificates.create(record)).toBe(true);
    }
    // Self-signed: no ACME directory, never renewed by the sweep however close its expiry.
    const selfSigned = await acmeRecord("self-signed", ["self.example.com"], { directory: "unused", expiresAt: inDays(1) });
    await certificates.create({ ...selfSigned, acme_directory_url: null });
    // An ACME record without an expiry cannot be judged.
    const unknown = await acmeRecord("no-expiry", ["unknown.example.com"], { directory: "https://prod.test/dir" });
    await certificates.create({ ...unknown, expires_at: null });
  }

  test("queues a renewal for each ACME certificate within RENEWAL_THRESHOLD_DAYS, none for the rest", async () => {
    const { certificates, statuses, scheduler } = setup();
    await storeAll(certificates);
    await statuses.set(statusOf("in-progress", { status: "issuing", operation: "renew" }));
    await redis.client.set(keys.certificateLock("in-progress"), "another-node", "PX", 60_000);

    const queued = await scheduler().sweep();
    expect(queued.sort()).toEqual(["due-soon", "edge", "expired"]);
    const jobs = await queuedJobs(redis.client);
    expect(jobs.map((j) => j.cert_name).sort()).toEqual(["due-soon", "edge", "expired"]);
    for (const j of jobs) expect(j).toMatchObject({ operation: "renew", attempt: 1, directory_url: "https://prod.test/dir" });
    for (const name of ["fresh", "self-signed", "no-expiry"]) expect(await redis.client.exists(keys.certificateStatus(name))).toBe(0);
    // The one already being renewed keeps its status.
    expect((await parsedStatus("in-progress"))!.status).toBe("issuing");
  });

  test("the threshold is configurable", async () => {
    const { certificates, scheduler } = setup({ RENEWAL_THRESHOLD_DAYS: "0" });
    await storeAll(certificates);
    expect(await scheduler().sweep()).toEqual(["expired"]);
  });

  test("another instance sweeping within the same interval queues nothing (the sweep lock)", async () => {
    const { certificates, scheduler } = setup();
    await storeAll(certificates);
    expect((await scheduler().sweep()).sort()).toEqual(["due-soon", "edge", "expired", "in-progress"]);
    // Clear what the first sweep queued, so only the lock can stop the second.
    await redis.client.del(keys.certificateJobs, ...(await redis.client.keys("cert:status:*")));
    const before = await fullSnapshot(redis.client);
    expect(await scheduler().sweep()).toEqual([]);
    expect(await scheduler().sweep(Date.now() + 1_000)).toEqual([]);
    expect(await fullSnapshot(redis.client)).toEqual(before);
    // The lock lasts 90% of RENEWAL_CHECK_INTERVAL (default one day).
    const pttl = await redis.client.pttl(keys.renewalSweepLock);
    expect(pttl).toBeGreaterThan(0.9 * DAY_MS - 60_000);
    expect(pttl).toBeLessThanOrEqual(0.9 * DAY_MS);
  });

  test("the next interval's sweep runs again", async () => {
    const { certificates, scheduler } = setup({ RENEWAL_CHECK_INTERVAL: "1" });
    await storeAll(certificates);
    expect((await scheduler().sweep()).length).toBe(4);
    await redis.client.del(keys.certificateJobs, ...(await redis.client.keys("cert:status:*")));
    expect(await scheduler().sweep()).toEqual([]);
    expect(await redis.client.pttl(keys.renewalSweepLock)).toBeLessThanOrEqual(900);
    await Bun.sleep(1_000);
    expect((await scheduler().sweep()).sort()).toEqual(["due-soon", "edge", "expired", "in-progress"]);
  });
});

describe("IssuanceWorkers", () => {
  let managers: CertificateManager[] = [];
  let servers: Server<undefined>[] = [];
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.stop()));
    for (const s of servers) s.stop(true);
  });

  const manager = (settings: CertificateSettings) => {
    const made = new CertificateManager({
      redis: redis.client,
      certificates: new CertificateRepository(redis.client),
      settings,
      httpPort: 80,
      selfSignedDays: 30,
      adminEmail: "admin@example.test",
      log,
    });
    managers.push(made);
    return made;
  };

  /** A directory that answers every request with `status` and `body` (4xx: acme-client does not retry). */
  const refusingDirectory = (status: number, body: string, contentType: string) => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(body, { status, headers: { "content-type": contentType } }) });
    servers.push(server);
    return `http://127.0.0.1:${server.port}/directory`;
  };

  test("a job whose certificate another node holds the lock for is dropped, its status untouched", async () => {
    const m = manager(settingsOf());
    expect((await m.requestAcme(request("held"))).queued).toBe(true);
    await redis.client.set(keys.certificateLock("held"), "another-node", "PX", 60_000);
    const statusBefore = await rawStatus("held");

    m.start();
    await until("the job taken", async () => (await redis.client.llen(keys.certificateJobs)) === 0);
    // Give a wrongly started issuance time to show itself.
    await Bun.sleep(300);
    await m.stop();

    expect(await rawStatus("held")).toBe(statusBefore);
    expect(await redis.client.get(keys.certificateLock("held"))).toBe("another-node");
    expect(await redis.client.keys("acme:account:*")).toEqual([]);
    expect(await redis.client.exists(keys.certificate("held"), keys.certificateJobsLater)).toBe(0);
    expect(await redis.client.llen(keys.certificateJobs)).toBe(0);
  }, 15_000);

  test("a failed first issuance: status failed with the error and retry_at, queued again with backoff, never expiring; lock released", async () => {
    const directory = refusingDirectory(404, "nothing here\n", "text/plain");
    const m = manager({ ...settingsOf({ CERT_STATUS_RETENTION_SECONDS: "600", CERT_RETRY_BASE_SECONDS: "30" }), directoryUrl: directory });
    expect((await m.requestAcme(request("refused"))).queued).toBe(true);
    const startedAt = Date.now();
    m.start();
    const status = await until("failed", async () => {
      const s = await parsedStatus("refused");
      return s?.status === "failed" ? s : null;
    });
    const [later] = await until("queued for later", async () => {
      const l = await laterJobs(redis.client);
      return l.length > 0 ? l : null;
    });
    await m.stop();

    expect(status).toMatchObject({ cert_name: "refused", operation: "issue", attempts: 1 });
    expect(status.message).toBe(`issuance failed at account registration; trying again at ${status.retry_at}`);
    expect(Date.parse(status.retry_at!) - startedAt).toBeGreaterThanOrEqual(30_000 - 1_000);
    expect(Date.parse(status.retry_at!) - Date.now()).toBeLessThanOrEqual(30_000);
    expect(status.error!.detail).toBeString();
    expect(status.error!.detail).toContain(directory);
    expect(status.error!.detail).toContain("404");
    expect(later!.job).toMatchObject({ cert_name: "refused", operation: "issue", attempt: 2 });
    expect(later!.dueAt).toBe(Date.parse(status.retry_at!));
    expect(await redis.client.ttl(keys.certificateStatus("refused"))).toBe(-1);
    // Waiting for its retry: a second request for the name is refused as in progress.
    expect(await m.requestAcme(request("refused"))).toEqual({ queued: false, reason: "in_progress" });
    expect(await redis.client.exists(keys.certificate("refused"), keys.certificateLock("refused"), keys.certificateJobs)).toBe(0);
    // Deleting the request drops the retry too.
    await m.delete("refused");
    expect(await laterJobs(redis.client)).toEqual([]);
  }, 15_000);

  test("a first issuance the CA refuses for good (rejectedIdentifier) is not retried; its failure stays", async () => {
    const problem = { type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "no issuance for that name", status: 400 };
    const directory = refusingDirectory(400, JSON.stringify(problem), "application/problem+json");
    const m = manager({ ...settingsOf(), directoryUrl: directory });
    expect((await m.requestAcme(request("forbidden"))).queued).toBe(true);
    m.start();
    const status = await until("failed", async () => {
      const s = await parsedStatus("forbidden");
      return s?.status === "failed" ? s : null;
    });
    await Bun.sleep(100);
    await m.stop();
    expect(status).toMatchObject({ attempts: 1, retry_at: null, error: problem });
    expect(status.message).toBe("issuance failed at account registration");
    expect(await laterJobs(redis.client)).toEqual([]);
    expect(await redis.client.ttl(keys.certificateStatus("forbidden"))).toBe(-1);
    await m.delete("forbidden");
  }, 15_000);

  test("a failed renewal keeps the CA's problem, sets retry_at, and comes back later with the next attempt; the delay doubles up to CERT_RETRY_MAX_SECONDS", async () => {
    const problem = { type: "urn:ietf:params:acme:error:serverInternal", detail: "the CA is having a bad day", status: 403 };
    const directory = refusingDirectory(403, JSON.stringify(problem), "application/problem+json");
    const m = manager(settingsOf({ CERT_RETRY_BASE_SECONDS: "60", CERT_RETRY_MAX_SECONDS: "100" }));
    const certificates = new CertificateRepository(redis.client);
    const record = await acmeRecord("renewing", ["renewing.example.com"], { directory, email: "me@example.org", expiresAt: new Date(Date.now() + 5 * DAY_MS) });
    await certificates.create(record);
    expect((await m.requests.renew(record)).queued).toBe(true);

    const startedAt = Date.now();
    m.start();
    const first = await until("first failure", async () => {
      const s = await parsedStatus("renewing");
      return s?.status === "failed" ? s : null;
    });
    expect(first).toMatchObject({ operation: "renew", attempts: 1, error: problem });
    expect(first.retry_at).not.toBeNull();
    const retryAt = Date.parse(first.retry_at!);
    expect(retryAt - startedAt).toBeGreaterThanOrEqual(60_000 - 1_000);
    expect(retryAt - Date.now()).toBeLessThanOrEqual(60_000);
    expect(first.message).toContain(first.retry_at!);
    // Waiting for its retry: still in progress, so it never expires and blocks another request.
    expect(await redis.client.ttl(keys.certificateStatus("renewing"))).toBe(-1);
    expect((await m.requests.renew(record)).queued).toBe(false);
    const [later] = await until("queued for later", async () => {
      const l = await laterJobs(redis.client);
      return l.length > 0 ? l : null;
    });
    expect(later!.job).toMatchObject({ cert_name: "renewing", operation: "renew", attempt: 2, directory_url: directory, email: "me@example.org" });
    expect(later!.dueAt).toBe(retryAt);
    expect(await redis.client.llen(keys.certificateJobs)).toBe(0);
    // The certificate itself is untouched.
    expect((await certificates.get("renewing"))!.fullchain_pem).toBe(record.fullchain_pem);

    // Make the retry due now: the workers move it over and run attempt 2, which backs off 120 s, capped at 100.
    await redis.client.zadd(keys.certificateJobsLater, Date.now() - 1, JSON.stringify(later!.job));
    const second = await until("second failure", async () => {
      const s = await parsedStatus("renewing");
      return s?.attempts === 2 && s.status === "failed" ? s : null;
    });
    const [third] = await until("attempt 3 queued", async () => {
      const l = await laterJobs(redis.client);
      return l.some((x) => x.job.attempt === 3) ? l : null;
    });
    await m.stop();
    expect(third!.job.attempt).toBe(3);
    expect(third!.dueAt).toBe(Date.parse(second.retry_at!));
    const delay = Date.parse(second.retry_at!) - Date.parse(second.updated_at);
    expect(delay).toBeGreaterThan(100_000 - 1_000);
    expect(delay).toBeLessThanOrEqual(100_000);
    expect(await laterJobs(redis.client)).toHaveLength(1);
  }, 15_000);

  // The worker does not know the certificate went: when the running renewal fails it writes a status and
  // queues a retry for a certificate that no longer exists (and a retry that succeeds would store it again).
  test("a certificate deleted while its renewal runs stays deleted: no status, no retry", async () => {
    const hanging: ((response: Response) => void)[] = [];
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>((resolve) => hanging.push(resolve)) });
    servers.push(server);
    const directory = `http://127.0.0.1:${server.port}/directory`;
    const m = manager(settingsOf());
    const record = await acmeRecord("doomed", ["doomed.example.com"], { directory });
    await new CertificateRepository(redis.client).create(record);
    expect((await m.requests.renew(record)).queued).toBe(true);
    m.start();
    await until("the renewal running", async () => hanging.length > 0);

    expect(await m.delete("doomed")).toBe(true);
    const problem = JSON.stringify({ type: "urn:ietf:params:acme:error:serverInternal", detail: "down", status: 400 });
    for (const resolve of hanging) resolve(new Response(problem, { status: 400, headers: { "content-type": "application/problem+json" } }));
    await Bun.sleep(300);
    await m.stop();
    expect({
      certificate: await redis.client.exists(keys.certificate("doomed")),
      status: (await parsedStatus("doomed"))?.status ?? null,
      later: (await laterJobs(redis.client)).map((l) => l.job.cert_name),
      queued: (await queuedJobs(redis.client)).map((j) => j.cert_name),
    }).toEqual({ certificate: 0, status: null, later: [], queued: [] });
  }, 15_000);

  for (const operation of ["issue", "renew"] as const) {
    describe(`stop() while an issuance is running (${operation})`, () => {
      const hanging: ((response: Response) => void)[] = [];
      let m: CertificateManager;

      beforeEach(async () => {
        hanging.length = 0;
        const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>((resolve) => hanging.push(resolve)) });
        servers.push(server);
        const directory = `http://127.0.0.1:${server.port}/directory`;
        m = manager({ ...settingsOf({ CERT_GEN_MAX_WORKERS: "1" }), directoryUrl: directory });
        if (operation === "issue") {
          expect((await m.requestAcme(request("running"))).queued).toBe(true);
        } else {
          const record = await acmeRecord("running", ["running.example.com"], { directory, email: "ops@example.org" });
          await new CertificateRepository(redis.client).create(record);
          expect((await m.requests.renew(record)).queued).toBe(true);
        }
        expect((await m.requestAcme(request("waiting"))).queued).toBe(true);
        m.start();
        await until("the directory asked", async () => hanging.length > 0);
        expect((await parsedStatus("running"))!.status).toBe("issuing");
        expect((await queuedJobs(redis.client)).map((j) => j.cert_name)).toEqual(["waiting"]);
        await m.stop();
      });

      test("puts the job back at the head of cert:jobs with status pending, and frees the lock", async () => {
        const jobs = await queuedJobs(redis.client);
        expect(jobs.map((j) => j.cert_name)).toEqual(["running", "waiting"]);
        expect(jobs[0]).toMatchObject({ operation, attempt: 1, domains: ["running.example.com"], email: "ops@example.org" });
        const status = (await parsedStatus("running"))!;
        expect(status).toMatchObject({ status: "pending", operation, attempts: 0, error: null, retry_at: null });
        expect(status.message).toContain("handed back");
        expect(await redis.client.ttl(keys.certificateStatus("running"))).toBe(-1);
        expect(await redis.client.exists(keys.certificateLock("running"))).toBe(0);
        expect((await parsedStatus("waiting"))!.status).toBe("pending");
        // Still in progress for the API: another request for it is refused.
        const again = operation === "issue" ? await m.requestAcme(request("running")) : await m.requests.renew((await new CertificateRepository(redis.client).get("running"))!);
        expect(again).toEqual({ queued: false, reason: "in_progress" });
      }, 15_000);

      // The handed-back issuance keeps running in the background; when its request finally fails it
      // writes "failed" over the "pending" status of the requeued job (and a renewal queues a retry too).
      test("the abandoned issuance failing afterwards changes neither the handed-back status nor the queues", async () => {
        const before = await fullSnapshot(redis.client);
        const problem = JSON.stringify({ type: "urn:ietf:params:acme:error:serverInternal", detail: "late", status: 400 });
        for (const resolve of hanging) resolve(new Response(problem, { status: 400, headers: { "content-type": "application/problem+json" } }));
        await Bun.sleep(300);
        const status = (await parsedStatus("running"))!;
        expect({
          status: status.status,
          retry_at: status.retry_at,
          expires: (await redis.client.ttl(keys.certificateStatus("running"))) > 0,
          queued: (await queuedJobs(redis.client)).map((j) => j.cert_name),
          later: (await laterJobs(redis.client)).map((l) => [l.job.cert_name, l.job.attempt]),
        }).toEqual({ status: "pending", retry_at: null, expires: false, queued: ["running", "waiting"], later: [] });
        expect(await fullSnapshot(redis.client)).toEqual(before);
      }, 15_000);
    });
  }
});
