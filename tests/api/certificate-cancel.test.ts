/**
 * Deleting a certificate request that has no certificate yet cancels it: the
 * DELETE, the status and a new request for the name agree (200, 404, 202),
 * whether the request is still queued or a worker is already issuing it. Only
 * its owner (or the admin) can cancel it. The CA here accepts connections and
 * never answers, so an issuance stays "issuing" for as long as a test needs.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { hashApiToken } from "../../src/core/api-token";
import { keys } from "../../src/storage/keys";
import { ADMIN, useApiHarness } from "../helpers/api-app";
import { queuedJobs } from "../helpers/certificate-state";
import { within } from "../helpers/within";

let connections = 0;
const silentCa = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(_socket: Socket<undefined>) {
      connections++;
    },
    data() {},
  },
});
const DIRECTORY = `https://127.0.0.1:${silentCa.port}/directory`;
afterAll(() => silentCa.stop(true));

const suite = useApiHarness({ ACME_DIRECTORY_URL: DIRECTORY, ACME_STAGING_URL: DIRECTORY, ACME_STEP_TIMEOUT_SECONDS: "600", ACME_ISSUANCE_TIMEOUT_SECONDS: "600" });
afterEach(() => suite.api.certificateManager.stop());

const call = (method: string, path: string, options: { token?: string | null; body?: unknown } = {}) => suite.api.call(method, path, options);
const request = (name: string, token?: string) => call("POST", "/api/v1/certificates/", { body: { cert_name: name, domain: `${name}.example.com` }, token });
const statusOf = (name: string, token?: string) => call("GET", `/api/v1/certificates/${name}/status`, { token });

async function userToken(name: string): Promise<string> {
  const res = await call("POST", "/api/v1/tokens/", { body: { name } });
  expect(res.status).toBe(201);
  return res.json.token;
}

describe("DELETE of a request without a certificate cancels it", () => {
  test("queued: 200, the job leaves the queue, the status is gone, and the name can be requested again", async () => {
    expect((await request("queued")).status).toBe(202);
    expect((await statusOf("queued")).json.status).toBe("pending");
    expect((await queuedJobs(suite.redis.client)).map((j) => j.cert_name)).toEqual(["queued"]);

    const deleted = await call("DELETE", "/api/v1/certificates/queued");
    expect(deleted).toMatchObject({ status: 200, json: { deleted: "queued", cancelled: true } });
    expect((await statusOf("queued")).status).toBe(404);
    expect((await call("GET", "/api/v1/certificates/queued")).status).toBe(404);
    expect(await queuedJobs(suite.redis.client)).toEqual([]);
    expect(await suite.redis.client.exists(keys.certificateStatus("queued"))).toBe(0);
    // A second DELETE finds nothing: the three answers keep agreeing.
    expect((await call("DELETE", "/api/v1/certificates/queued")).status).toBe(404);

    expect((await request("queued")).status).toBe(202);
    expect((await statusOf("queued")).json.status).toBe("pending");
    expect(await queuedJobs(suite.redis.client)).toHaveLength(1);
  });

  test("issuing: 200, the status is gone, a new request is accepted and a worker takes it (the old issuance holds no lock)", async () => {
    const manager = suite.api.certificateManager;
    manager.start();
    expect((await request("busy")).status).toBe(202);
    expect(await within(5_000, async () => (await statusOf("busy")).json.status === "issuing" && connections > 0)).toBe(true);
    const before = connections;

    const deleted = await call("DELETE", "/api/v1/certificates/busy");
    expect(deleted).toMatchObject({ status: 200, json: { deleted: "busy", cancelled: true } });
    expect((await statusOf("busy")).status).toBe(404);
    expect(await suite.redis.client.exists(keys.certificateLock("busy"))).toBe(0);

    const again = await request("busy");
    expect(again.status).toBe(202);
    // The new request is worked on (a second connection to the CA), and the first one's progress never overwrites its status.
    expect(await within(5_000, async () => connections > before && (await statusOf("busy")).json.status === "issuing")).toBe(true);
    const current = JSON.parse((await suite.redis.client.get(keys.certificateStatus("busy")))!);
    expect((await queuedJobs(suite.redis.client))).toEqual([]);

    // On stop the running new request is handed back; the cancelled one is not.
    await manager.stop();
    const handedBack = await queuedJobs(suite.redis.client);
    expect(handedBack.map((j) => j.request_id)).toEqual([current.request_id]);
  }, 20_000);

  test("a failed request (nothing to retry) is cleared the same way: 200 with cancelled false", async () => {
    await suite.api.certificateManager.statuses.set({
      cert_name: "broken",
      status: "failed",
      operation: "issue",
      domains: ["broken.example.com"],
      message: "issuance failed",
      error: { detail: "nope" },
      attempts: 1,
      retry_at: null,
      owner_token_hash: hashApiToken(ADMIN),
    });
    expect((await statusOf("broken")).json.status).toBe("failed");
    expect(await call("DELETE", "/api/v1/certificates/broken")).toMatchObject({ status: 200, json: { deleted: "broken", cancelled: false } });
    expect((await statusOf("broken")).status).toBe(404);
  });

  test("only the owner or the admin: another user's DELETE is a 404 and leaves the request queued", async () => {
    const alice = await userToken("alice");
    const bob = await userToken("bob");
    expect((await request("alices", alice)).status).toBe(202);

    expect((await call("DELETE", "/api/v1/certificates/alices", { token: bob })).status).toBe(404);
    expect((await statusOf("alices", bob)).status).toBe(404);
    expect((await statusOf("alices", alice)).json.status).toBe("pending");
    expect((await queuedJobs(suite.redis.client)).map((j) => j.cert_name)).toEqual(["alices"]);
    expect((await call("DELETE", "/api/v1/certificates/alices", { token: null })).status).toBe(401);

    expect(await call("DELETE", "/api/v1/certificates/alices", { token: alice })).toMatchObject({ status: 200, json: { cancelled: true } });
    expect(await queuedJobs(suite.redis.client)).toEqual([]);

    expect((await request("admins")).status).toBe(202);
    expect((await call("DELETE", "/api/v1/certificates/admins", { token: alice })).status).toBe(404);
    expect((await call("DELETE", "/api/v1/certificates/admins")).status).toBe(200);
  });

  test("the status answer never shows the request id", async () => {
    expect((await request("quiet")).status).toBe(202);
    const status = await statusOf("quiet");
    expect(status.json.request_id).toBeUndefined();
    expect(status.json.owner_token_hash).toBeUndefined();
  });
});
