/**
 * Every step of an issuance ends: with the self-check on (the default), a
 * name that does not resolve or a challenge URL that never answers fails
 * within ACME_SELF_CHECK_TIMEOUT_SECONDS, a CA that never answers within
 * ACME_STEP_TIMEOUT_SECONDS, and the whole within ACME_ISSUANCE_TIMEOUT_SECONDS.
 * The status is `failed` and names the step, the lock is released and the
 * worker takes the next job. The certificate manager runs in this process
 * against a real pebble and a real Redis.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server, TCPSocketListener } from "bun";
import https from "node:https";
import * as acme from "acme-client";
import pino from "pino";
import { CertificateManager } from "../../src/certificates/certificate-manager";
import type { NewCertificateRequest } from "../../src/certificates/certificate-requests";
import { ChallengeStore } from "../../src/certificates/challenge-store";
import type { CertificateStatus } from "../../src/certificates/status-store";
import { parseConfig } from "../../src/core/config";
import { CertificateRepository } from "../../src/storage/certificate-repository";
import { keys } from "../../src/storage/keys";
import { acmeRecord, laterJobs } from "../helpers/certificate-state";
import { startPebble, type Pebble } from "../helpers/pebble";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

const CHALLENGE_PATH = "/.well-known/acme-challenge/";

let redis: TestRedis;
let pebble: Pebble;
/** Answers HTTP-01 from Redis, as the gateway's HTTP port does; pebble validates against it. */
let answering: Server<undefined>;
/** Accepts connections and never says a word. */
let silent: TCPSocketListener<undefined>;
let silentConnections = 0;
const managers: CertificateManager[] = [];
const servers: Server<undefined>[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  const challenges = new ChallengeStore(redis.client);
  answering = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const answer = path.startsWith(CHALLENGE_PATH) ? await challenges.answer(path.slice(CHALLENGE_PATH.length)) : null;
      return answer === null ? new Response("not found", { status: 404 }) : new Response(answer);
    },
  });
  silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void silentConnections++, data() {} } });
  pebble = await startPebble({ httpPort: answering.port! });
  // The gateway trusts pebble through NODE_EXTRA_CA_CERTS, read when a process starts; this process
  // started before pebble made its CA, so acme-client's HTTP client is given it directly.
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: pebble.caPem });
}, 30_000);

afterAll(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  await pebble?.stop();
  answering?.stop(true);
  silent?.stop(true);
  for (const s of servers) s.stop(true);
  await redis?.stop();
});

/** A node's certificate manager whose self-check (HTTP_PORT) goes to `httpPort`; settings from `env`. */
function manager(httpPort: number, env: Record<string, string>, directoryUrl = pebble.directoryUrl): CertificateManager {
  const settings = parseConfig({ AUTO_CERTIFICATES: "false", ACME_POLL_INTERVAL_SECONDS: "0.1", ...env }).certificates;
  const made = new CertificateManager({
    redis: redis.client,
    certificates: new CertificateRepository(redis.client),
    settings: { ...settings, directoryUrl, stagingUrl: directoryUrl },
    httpPort,
    selfSignedDays: 30,
    adminEmail: null,
    log: pino({ level: "silent" }),
  });
  managers.push(made);
  return made;
}

const request = (name: string, domains: string[]): NewCertificateRequest => ({
  cert_name: name,
  domains,
  email: null,
  staging: false,
  key_type: "ecdsa",
  owner_token_hash: null,
});

async function finished(m: CertificateManager, name: string, timeoutMs = 10_000): Promise<CertificateStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await m.statuses.get(name);
    if (status?.status === "ready" || status?.status === "failed") return status;
    if (Date.now() > deadline) throw new Error(`${name} still ${JSON.stringify(status)} after ${timeoutMs} ms\n${pebble.output().slice(-2000)}`);
    await Bun.sleep(20);
  }
}

/**
 * Nothing of the request is left behind but its status and its retry (the
 * next attempt, waiting in the later-queue): no lock, no job to run now, no
 * challenge answer, no certificate. The retry is dropped so tests stay apart.
 */
async function expectNothingLeft(name: string) {
  expect(await redis.client.exists(keys.certificateLock(name), keys.certificate(name), keys.certificateJobs)).toBe(0);
  expect(await redis.client.keys(keys.acmeChallenge("*"))).toEqual([]);
  const later = (await laterJobs(redis.client)).filter((l) => l.job.cert_name === name);
  expect(later.map((l) => l.job.attempt)).toEqual([2]);
  await redis.client.zrem(keys.certificateJobsLater, JSON.stringify(later[0]!.job));
}

/** A failure that is tried again: its message says when, and retry_at is set. */
function expectRetried(status: CertificateStatus, failedAt: string) {
  expect(status).toMatchObject({ status: "failed", attempts: 1 });
  expect(status.retry_at).not.toBeNull();
  expect(status.message).toBe(`issuance failed at ${failedAt}; trying again at ${status.retry_at}`);
}

describe("the challenge self-check (ACME_CHALLENGE_SELF_CHECK=true)", () => {
  test("a name that answers with the challenge passes it, and the certificate is issued", async () => {
    const m = manager(answering.port!, {});
    expect((await m.requestAcme(request("answers", ["answers.localhost"]))).queued).toBe(true);
    m.start();
    const status = await finished(m, "answers");
    await m.stop();
    expect(status).toMatchObject({ status: "ready", error: null });
    expect((await new CertificateRepository(redis.client).get("answers"))!.domains).toEqual(["answers.localhost"]);
  }, 20_000);

  test("a name that does not resolve fails within seconds; the status names the self-check and the reason", async () => {
    const m = manager(answering.port!, {});
    const started = Date.now();
    expect((await m.requestAcme(request("nowhere", ["nowhere.invalid"]))).queued).toBe(true);
    m.start();
    const status = await finished(m, "nowhere");
    await m.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expectRetried(status, "self-check of nowhere.invalid");
    const url = `http://nowhere.invalid:${answering.port}${CHALLENGE_PATH}`;
    expect(status.error!.detail).toStartWith(`self-check of ${url}`);
    expect(status.error!.detail).toEndWith(" failed: nowhere.invalid does not resolve (ENOTFOUND)");
    await expectNothingLeft("nowhere");
  }, 20_000);

  test("a challenge URL that never answers fails after ACME_SELF_CHECK_TIMEOUT_SECONDS, and the worker goes on to the next job", async () => {
    const m = manager(silent.port, { ACME_SELF_CHECK_TIMEOUT_SECONDS: "0.5", CERT_GEN_MAX_WORKERS: "1" });
    const before = silentConnections;
    const started = Date.now();
    expect((await m.requestAcme(request("silent-1", ["silent-1.localhost"]))).queued).toBe(true);
    expect((await m.requestAcme(request("silent-2", ["silent-2.localhost"]))).queued).toBe(true);
    m.start();
    const first = await finished(m, "silent-1");
    const second = await finished(m, "silent-2");
    await m.stop();
    // One worker, one at a time: the second waited for the first to give up.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(silentConnections - before).toBe(2);
    for (const [name, status] of [["silent-1", first], ["silent-2", second]] as const) {
      expectRetried(status, `self-check of ${name}.localhost`);
      expect(Object.keys(status.error!)).toEqual(["detail"]);
      expect(status.error!.detail).toMatch(new RegExp(`^self-check of http://${name}\\.localhost:${silent.port}${CHALLENGE_PATH}[\\w-]+ timed out after 0\\.5 s$`));
      await expectNothingLeft(name);
    }
  }, 20_000);
});

describe("the CA's steps", () => {
  /** A directory (plain HTTP: the test needs no TLS to show a silent peer) whose server never answers. */
  function silentDirectory(): string {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => {}) });
    servers.push(server);
    return `http://127.0.0.1:${server.port}/directory`;
  }

  test("a CA that never answers fails after ACME_STEP_TIMEOUT_SECONDS, at account registration", async () => {
    const directory = silentDirectory();
    const m = manager(answering.port!, { ACME_STEP_TIMEOUT_SECONDS: "0.5" }, directory);
    const started = Date.now();
    expect((await m.requestAcme(request("no-answer", ["no-answer.example.test"]))).queued).toBe(true);
    m.start();
    const status = await finished(m, "no-answer");
    await m.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    expectRetried(status, "account registration");
    expect(status.error).toEqual({ detail: "account registration timed out after 0.5 s" });
    await expectNothingLeft("no-answer");
  }, 20_000);

  test("the whole issuance stops at ACME_ISSUANCE_TIMEOUT_SECONDS, naming the step it was in; a renewal retries later", async () => {
    const directory = silentDirectory();
    const m = manager(answering.port!, { ACME_ISSUANCE_TIMEOUT_SECONDS: "1" }, directory);
    const certificates = new CertificateRepository(redis.client);
    const record = await acmeRecord("overall", ["overall.example.test"], { directory });
    await certificates.create(record);
    expect((await m.requests.renew(record)).queued).toBe(true);
    const started = Date.now();
    m.start();
    const status = await finished(m, "overall");
    await m.stop();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(status.message).toStartWith("renewal failed at account registration; trying again at ");
    // What was left of the second when the step began: a little under it.
    expect(status.error!.detail).toMatch(/^account registration timed out after (1|0\.\d) s: the whole issuance may take 1 s \(ACME_ISSUANCE_TIMEOUT_SECONDS\)$/);
    expect(status.retry_at).not.toBeNull();
    expect(await redis.client.exists(keys.certificateLock("overall"))).toBe(0);
    await certificates.delete("overall");
    await redis.client.del(keys.certificateJobsLater, keys.certificateStatus("overall"));
  }, 20_000);
});
