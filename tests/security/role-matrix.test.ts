/**
 * The role matrix, generated from the OpenAPI document of a real gateway:
 * every operation is called by each principal (admin, service-owner, viewer,
 * a cluster API key, no token) and must answer as permissions.ts (and
 * docs/permissions.md) say: 401 without a token unless public, 403 where the
 * table denies, anything but 401/403 where it allows. An operation without a
 * table entry, or an entry no operation has, fails the test.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { accessOf, normalizeEndpoint, PERMISSIONS, permissionFor, PRINCIPALS } from "../../src/api/permissions";
import type { Principal } from "../../src/api/caller";
import { startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { rawConnection } from "../helpers/raw-http";

const DEFAULT_CLUSTER_KEY = "matrix-default-cluster-key-0123456789abcdef";
/** Paths the table lists that the document leaves out on purpose: the document itself. */
const UNDOCUMENTED = new Set(["GET /api/v1/openapi.json"]);

let redis: TestRedis;
let gw: TestGateway;
let apiBase: string;
let operations: { method: string; path: string }[];
const credentials = {} as Record<Principal, string>;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis, { CLUSTER_API_KEY: DEFAULT_CLUSTER_KEY, CLUSTER_NAME: "matrix" });
  apiBase = `http://127.0.0.1:${gw.gateway.apiPort}`;
  credentials.admin = "acm_in_process_admin_token_000000";
  const owner = await gw.api("POST", "/api/v1/tokens/", { name: "matrix-owner" });
  const viewer = await gw.api("POST", "/api/v1/tokens/", { name: "matrix-viewer", role: "viewer" });
  const key = await gw.api("POST", "/api/v1/cluster/keys/", { name: "matrix-key" });
  expect([owner.status, viewer.status, key.status]).toEqual([201, 201, 201]);
  credentials["service-owner"] = owner.json.token;
  credentials.viewer = viewer.json.token;
  credentials.cluster = key.json.key;
  const doc = (await gw.api("GET", "/api/v1/openapi.json")).json;
  operations = [];
  for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of Object.keys(item)) operations.push({ method: method.toUpperCase(), path });
  }
});

afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

const key = (op: { method: string; path: string }) => {
  const n = normalizeEndpoint(op.method, op.path);
  return `${n.method} ${n.path}`;
};

/** A concrete path for an operation: every parameter names something that does not exist. */
function concrete(path: string): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) =>
    name === "uri" ? encodeURIComponent("https://matrix-missing.example.test/") : name === "hostname" ? "matrix-missing.example.test" : name === "ip" ? "192.0.2.1" : `matrix-missing-${name}`,
  );
}

async function call(method: string, path: string, token: string | null): Promise<number> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (method !== "GET" && method !== "DELETE") {
    headers["content-type"] = "application/json";
    body = "{}";
  }
  // The live tail never ends on its own: the status is all this needs.
  const abort = new AbortController();
  const response = await fetch(apiBase + path, { method, headers, body, signal: abort.signal });
  abort.abort();
  return response.status;
}

describe("the permission table covers the API exactly", () => {
  test("every documented operation has an entry", () => {
    expect(operations.length).toBeGreaterThan(100);
    const missing = operations.filter((op) => permissionFor(op.method, op.path)?.key !== key(op)).map(key);
    expect(missing).toEqual([]);
  });

  test("every entry is a documented operation", () => {
    const documented = new Set(operations.map(key));
    const stale = Object.keys(PERMISSIONS).filter((entry) => !documented.has(entry) && !UNDOCUMENTED.has(entry));
    expect(stale).toEqual([]);
  });
});

describe("each principal gets what the table says on every operation", () => {
  test("no token: 401 unless public", async () => {
    const wrong: string[] = [];
    for (const op of operations) {
      const rule = permissionFor(op.method, op.path)!.rule;
      const status = await call(op.method, concrete(op.path), null);
      const ok = rule === "public" ? status !== 401 && status !== 403 : status === 401;
      if (!ok) wrong.push(`${key(op)} → ${status}`);
    }
    expect(wrong).toEqual([]);
  });

  for (const principal of PRINCIPALS) {
    test(`${principal}: 403 where denied, never 401/403 where allowed`, async () => {
      const wrong: string[] = [];
      let denied = 0;
      for (const op of operations) {
        const rule = permissionFor(op.method, op.path)!.rule;
        const access = accessOf(rule, principal);
        const status = await call(op.method, concrete(op.path), credentials[principal]);
        if (access === "deny") denied++;
        const ok = access === "deny" ? status === 403 : status !== 401 && status !== 403 && status !== 500;
        if (!ok) wrong.push(`${key(op)} (${access}) → ${status}`);
      }
      expect(wrong).toEqual([]);
      // The matrix is not trivial: admins are refused nothing, everyone else something.
      if (principal === "admin") expect(denied).toBe(0);
      else expect(denied).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe("spellings of a denied path do not get around the table (raw bytes, no client normalizing)", () => {
  const variants = [
    "/api/v1/tokens",
    "/api/v1/tokens/",
    "/api/v1/tokens//",
    "/api/v1/tokens/?role=admin",
    "/API/v1/tokens/",
    "/api/V1/tokens/",
    "/api/v1/./tokens/",
    "/api/v1/proxy/../tokens/",
    "/api/v1/%74okens/",
    "/api/v1//tokens/",
    "//api/v1/tokens/",
    "/api/v1/tokens%2F",
  ];
  for (const principal of ["viewer", "cluster"] as const) {
    test(`${principal}: POST to every spelling of /api/v1/tokens is refused and creates nothing`, async () => {
      const answers: string[] = [];
      for (const path of variants) {
        const connection = await rawConnection(gw.gateway.apiPort);
        const body = JSON.stringify({ name: `sneaky-${principal}`, role: "admin" });
        const answer = await connection.send(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${credentials[principal]}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
        answers.push(`${path} → ${answer.slice(9, 12)}`);
      }
      expect(answers.filter((a) => !/→ (403|404|400)$/.test(a))).toEqual([]);
      expect((await gw.api("GET", `/api/v1/tokens/sneaky-${principal}`)).status).toBe(404);
    });
  }
});
