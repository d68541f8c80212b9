/**
 * The workers and a cancelled request, against a real Redis (no CA: the
 * directory here hangs until the test makes it refuse). A request cancelled
 * while its issuance runs leaves nothing behind when that issuance ends —
 * no status, no retry, no certificate — and a new request made for the name
 * meanwhile keeps its own status. `cancel` drops only the request it was shown.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import pino from "pino";
import { CertificateManager } from "../../src/certificates/certificate-manager";
import type { NewCertificateRequest } from "../../src/certificates/certificate-requests";
import type { CertificateStatus } from "../../src/certificates/status-store";
import { parseConfig } from "../../src/core/config";
import { CertificateRepository } from "../../src/storage/certificate-repository";
import { keys } from "../../src/storage/keys";
import { laterJobs, queuedJobs } from "../helpers/certificate-state";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { within } from "../helpers/within";

const log = pino({ level: "silent" });
let redis: TestRedis;
const managers: CertificateManager[] = [];
const servers: Server<undefined>[] = [];
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  for (const s of servers) s.stop(true);
  await redis.stop();
});
beforeEach(() => redis.client.flushdb());

const statusOf = async (name: string) => JSON.parse((await redis.client.get(keys.certificateStatus(name))) ?? "null") as CertificateStatus | null;
const request = (name: string): NewCertificateRequest => ({ cert_name: name, domains: [`${name}.example.com`], email: null, staging: false, key_type: "rsa", owner_token_hash: "sha256:owner" });

/** A manager whose CA holds every request until `refuseAll()` answers them with a problem document. */
function managerWithHangingCa() {
  const hanging: ((response: Response) => void)[] = [];
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>((resolve) => hanging.push(resolve)) });
  servers.push(server);
  const unreachable = "https://127.0.0.1:1/dir";
  const settings = { ...parseConfig({ AUTO_CERTIFICATES: "false", ACME_DIRECTORY_URL: unreachable, ACME_STAGING_URL: unreachable }).certificates, directoryUrl: `http://127.0.0.1:${server.port}/directory` };
  const manager = new CertificateManager({ redis: redis.client, certificates: new CertificateRepository(redis.client), settings, httpPort: 80, selfSignedDays: 30, adminEmail: null, log });
  managers.push(manager);
  const problem = JSON.stringify({ type: "urn:ietf:params:acme:error:serverInternal", detail: "late", status: 400 });
  return {
    manager,
    asked: () => hanging.length,
    refuseAll: () => hanging.splice(0).forEach((resolve) => resolve(new Response(problem, { status: 400, headers: { "content-type": "application/problem+json" } }))),
  };
}

describe("a request cancelled while it is issued", () => {
  test("its failure afterwards writes no status and queues no retry", async () => {
    const { manager, asked, refuseAll } = managerWithHangingCa();
    expect((await manager.requestAcme(request("gone"))).queued).toBe(true);
    manager.start();
    expect(await within(5_000, async () => asked() > 0 && (await statusOf("gone"))?.status === "issuing")).toBe(true);

    expect(await manager.cancel("gone", (await statusOf("gone"))!)).toBe(true);
    refuseAll();
    await Bun.sleep(500);
    expect({
      status: await statusOf("gone"),
      lock: await redis.client.exists(keys.certificateLock("gone")),
      certificate: await redis.client.exists(keys.certificate("gone")),
      queued: await queuedJobs(redis.client),
      later: await laterJobs(redis.client),
    }).toEqual({ status: null, lock: 0, certificate: 0, queued: [], later: [] });
    await manager.stop();
  }, 20_000);

  test("a new request made meanwhile keeps its own status when the old issuance fails", async () => {
    const { manager, asked, refuseAll } = managerWithHangingCa();
    expect((await manager.requestAcme(request("again"))).queued).toBe(true);
    manager.start();
    expect(await within(5_000, async () => asked() > 0 && (await statusOf("again"))?.status === "issuing")).toBe(true);
    const old = (await statusOf("again"))!;
    expect(await manager.cancel("again", old)).toBe(true);

    const renewed = await manager.requestAcme(request("again"));
    expect(renewed.queued).toBe(true);
    const newId = renewed.queued ? renewed.job.request_id : undefined;
    // The new request is taken at once: the cancelled issuance no longer holds the name's lock.
    expect(await within(5_000, async () => asked() > 1 && (await statusOf("again"))?.status === "issuing")).toBe(true);
    expect((await statusOf("again"))!.request_id).toBe(newId);

    // Both fail now; only the new request's failure is written.
    refuseAll();
    expect(await within(5_000, async () => (await statusOf("again"))?.status === "failed")).toBe(true);
    expect((await statusOf("again"))!.request_id).toBe(newId);
    expect(old.request_id).not.toBe(newId);
    await manager.stop();
  }, 20_000);

  test("cancel drops only the request it was shown: not a newer one, not one with a certificate", async () => {
    const { manager } = managerWithHangingCa();
    expect((await manager.requestAcme(request("shown"))).queued).toBe(true);
    const seen = (await statusOf("shown"))!;
    expect(await manager.cancel("shown", { ...seen, request_id: "another-request" })).toBe(false);
    expect(await manager.cancel("shown", { ...seen, owner_token_hash: "sha256:someone-else" })).toBe(false);
    expect((await statusOf("shown"))!.status).toBe("pending");
    expect(await queuedJobs(redis.client)).toHaveLength(1);
    expect(await manager.cancel("shown", seen)).toBe(true);
    expect(await manager.cancel("shown", seen)).toBe(false);
    expect(await queuedJobs(redis.client)).toEqual([]);

    const created = await manager.createSelfSigned("made", ["made.example.com"], "sha256:owner");
    expect(created).not.toBeNull();
    await redis.client.set(keys.certificateStatus("made"), JSON.stringify({ ...seen, cert_name: "made" }));
    expect(await manager.cancel("made", seen)).toBe(false);
    expect(await redis.client.exists(keys.certificate("made"))).toBe(1);
  });
});
