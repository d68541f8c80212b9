/**
 * PortRepository and PortAllocator against a real Redis and the real host:
 * atomic claims under concurrency, automatic allocation in a range, release
 * of one port or a whole service, cascade delete with the owning token, and
 * ports another program holds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { generateApiToken, hashApiToken } from "../../src/core/api-token";
import { ApiError } from "../../src/core/errors";
import { PortAllocator } from "../../src/services/port-allocator";
import { keys } from "../../src/storage/keys";
import { ownershipMember } from "../../src/storage/ownership";
import { PORT_KIND, type PortAllocation } from "../../src/storage/port-repository";
import { createStores, type Stores } from "../../src/storage/stores";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let stores: Stores;
let allocator: PortAllocator;
const GATEWAY = [{ setting: "API_PORT", port: 11002 }];

beforeAll(async () => {
  redis = await startTestRedis();
  stores = createStores(redis.client);
  allocator = new PortAllocator(stores.ports, () => GATEWAY);
});
afterAll(() => redis?.stop());
beforeEach(() => redis.client.flushdb());

const allocation = (host_port: number, overrides: Partial<PortAllocation> = {}): PortAllocation => ({
  service_name: "app",
  port_name: "http",
  host_port,
  container_port: 80,
  bind_address: "127.0.0.1",
  protocol: "tcp",
  source_token_hash: null,
  require_token: false,
  owner_token_hash: null,
  description: "",
  allocated_at: "2026-01-01T00:00:00.000Z",
  ...overrides,
});

/** A loopback TCP port held by this process until `stop`. */
function holdPort() {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  return { port: listener.port, stop: () => listener.stop(true) };
}

async function errorOf(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error("expected an ApiError");
}

describe("PortRepository", () => {
  test("a claim writes the record, the service's entry, the index and the owner's set", async () => {
    const a = allocation(12000, { owner_token_hash: "sha256:alice" });
    expect(await stores.ports.claim(a)).toEqual({ ok: true });
    expect(await stores.ports.get(12000)).toEqual(a);
    expect(JSON.parse((await redis.client.hget(keys.servicePorts("app"), "http"))!)).toEqual(a);
    expect(await stores.ports.allocatedPorts()).toEqual([12000]);
    expect(await redis.client.smembers(keys.ownedBy("sha256:alice"))).toEqual([ownershipMember(PORT_KIND, "12000")]);
  });

  test("a taken port and a taken port name are refused, naming the holder, and write nothing", async () => {
    await stores.ports.claim(allocation(12000));
    const before = await redis.client.keys("*");
    expect(await stores.ports.claim(allocation(12000, { service_name: "other", bind_address: "0.0.0.0" }))).toMatchObject({ ok: false, reason: "port_taken", holder: { service_name: "app" } });
    expect(await stores.ports.claim(allocation(12000, { service_name: "other" }))).toMatchObject({ ok: false, reason: "port_taken" });
    expect(await stores.ports.claim(allocation(12001))).toMatchObject({ ok: false, reason: "name_taken", holder: { host_port: 12000 } });
    expect((await redis.client.keys("*")).sort()).toEqual(before.sort());
    expect(await stores.ports.allocatedPorts()).toEqual([12000]);
  });

  test("50 concurrent claims of one port: exactly one wins", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => stores.ports.claim(allocation(13000, { service_name: `svc${i}`, bind_address: i % 2 ? "0.0.0.0" : "127.0.0.1" }))),
    );
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const holder = (await stores.ports.get(13000))!;
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.holder.service_name === holder.service_name)).toBe(true);
    // Only the winner's service has an entry.
    let entries = 0;
    for (let i = 0; i < 50; i++) entries += await redis.client.hlen(keys.servicePorts(`svc${i}`));
    expect(entries).toBe(1);
  });

  test("release frees one port; releaseService frees all of a service's ports at once and leaves others", async () => {
    await stores.ports.claim(allocation(12000, { owner_token_hash: "sha256:alice" }));
    await stores.ports.claim(allocation(12001, { port_name: "metrics", owner_token_hash: "sha256:alice" }));
    await stores.ports.claim(allocation(12002, { port_name: "admin" }));
    await stores.ports.claim(allocation(12003, { service_name: "other" }));
    expect((await stores.ports.release(12002))?.port_name).toBe("admin");
    expect(await stores.ports.release(12002)).toBeNull();
    expect((await stores.ports.listForService("app")).map((a) => a.host_port)).toEqual([12000, 12001]);
    expect((await stores.ports.releaseService("app")).map((a) => a.port_name)).toEqual(["http", "metrics"]);
    expect(await stores.ports.releaseService("app")).toEqual([]);
    expect(await stores.ports.listForService("app")).toEqual([]);
    expect(await stores.ports.allocatedPorts()).toEqual([12003]);
    expect(await redis.client.exists(keys.port(12000), keys.port(12001), keys.servicePorts("app"))).toBe(0);
    expect(await redis.client.smembers(keys.ownedBy("sha256:alice"))).toEqual([]);
    // A released port can be claimed again.
    expect(await stores.ports.claim(allocation(12000, { service_name: "next" }))).toEqual({ ok: true });
  });

  test("deleting the owning token releases its ports and no one else's", async () => {
    const token = generateApiToken();
    const hash = hashApiToken(token);
    await stores.tokens.create({ name: "alice", token, hash, role: "service-owner", cert_email: null, created_at: new Date().toISOString(), created_by: null, owner_token_hash: null });
    await stores.ports.claim(allocation(12000, { owner_token_hash: hash }));
    await stores.ports.claim(allocation(12001, { service_name: "bob-app", owner_token_hash: "sha256:bob" }));
    const counts = await stores.tokens.deleteCascading("alice");
    expect(counts).toMatchObject({ [PORT_KIND]: 1 });
    expect(await stores.ports.get(12000)).toBeNull();
    expect(await stores.ports.listForService("app")).toEqual([]);
    expect((await stores.ports.list()).map((a) => a.host_port)).toEqual([12001]);
  });
});

describe("PortAllocator", () => {
  test("check names why a port cannot be used: restricted, the gateway's, allocated (holder hidden from others), busy on the host", async () => {
    expect(await allocator.check(22, "127.0.0.1")).toMatchObject({ available: false, reason: "port 22 is restricted (system reserved: ssh)" });
    expect(await allocator.check(11002, "0.0.0.0")).toMatchObject({ available: false, reason: "port 11002 is the gateway's own listening port (API_PORT)", range: "exposed" });
    await stores.ports.claim(allocation(12000, { owner_token_hash: "sha256:alice" }));
    expect((await allocator.check(12000, "0.0.0.0", "tcp", { isAdmin: false, hash: "sha256:alice" })).reason).toBe("port 12000 is allocated to service app (port http, 127.0.0.1)");
    expect((await allocator.check(12000, "0.0.0.0", "tcp", { isAdmin: false, hash: "sha256:bob" })).reason).toBe("port 12000 is already allocated");
    const held = holdPort();
    try {
      for (const bind of ["127.0.0.1", "0.0.0.0"] as const) {
        const check = await allocator.check(held.port, bind);
        expect(check.available).toBe(false);
        expect(check.reason).toContain(`port ${held.port} is in use on the host (EADDRINUSE`);
      }
    } finally {
      held.stop();
    }
    expect(await allocator.check(held.port, "127.0.0.1")).toMatchObject({ available: true, reason: null });
  });

  test("a UDP port held on the host is busy for udp, and the reason says so", async () => {
    const socket = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    try {
      const check = await allocator.check(socket.port, "0.0.0.0", "udp");
      expect(check).toMatchObject({ available: false, protocol: "udp" });
      expect(check.reason).toContain(`port ${socket.port} is in use on the host (EADDRINUSE at 0.0.0.0:${socket.port}/udp)`);
    } finally {
      socket.close();
    }
    expect((await allocator.check(socket.port, "127.0.0.1", "udp")).available).toBe(true);
  });

  test("an explicit port is allocated as asked, with the source token stored only as its hash", async () => {
    const held = holdPort();
    held.stop();
    const got = await allocator.allocateForService("app", { name: "http", host: held.port, container: 8080, source_token: "s3cret", description: "main" }, "sha256:alice");
    expect(got).toMatchObject({ service_name: "app", port_name: "http", host_port: held.port, container_port: 8080, bind_address: "127.0.0.1", protocol: "tcp", source_token_hash: hashApiToken("s3cret"), require_token: true, owner_token_hash: "sha256:alice", description: "main" });
    expect(JSON.stringify(await redis.client.get(keys.port(held.port)))).not.toContain("s3cret");
    expect(await allocator.listForService("app")).toEqual([got]);
    expect((await errorOf(allocator.allocateForService("app", { name: "other", host: held.port, container: 1 }, null))).message).toContain("is allocated to service app");
    expect((await errorOf(allocator.allocateForService("app", { name: "http", host: 12999, container: 1 }, null))).message).toContain("already has a port named http");
    expect(await allocator.releaseService("app")).toHaveLength(1);
  });

  test("refused configurations and busy ports are 4xx errors that write nothing", async () => {
    const held = holdPort();
    try {
      const cases: [Parameters<PortAllocator["allocateForService"]>[1], number, string][] = [
        [{ name: "ssh", host: 22, container: 22 }, 409, "restricted"],
        [{ name: "api", host: 11002, container: 1 }, 409, "API_PORT"],
        [{ name: "busy", host: held.port, container: 1 }, 409, "in use on the host"],
        [{ name: "x", host: 70000, container: 1 }, 422, "host: 70000 is not a port number"],
        [{ name: "x", container: 0 }, 422, "container"],
        [{ name: "x", container: 1, bind: "10.0.0.1" as never }, 422, "bind: expected 127.0.0.1 or 0.0.0.0"],
        [{ name: "x", container: 1, protocol: "sctp" as never }, 422, "protocol"],
        [{ name: "bad name!", container: 1 }, 422, "name"],
        // Only HTTP over tcp can be token-checked (docs/services.md "Source tokens").
        [{ name: "dns", container: 53, protocol: "udp", source_token: "t" }, 400, "source_token: only tcp ports"],
        [{ name: "x", container: 1, source_token: "" }, 400, "source_token: must not be empty"],
        [{ name: "x", container: 1, require_token: true }, 400, "require_token"],
        [{ name: "x", container: 1, source_token: "t", require_token: false }, 400, "require_token"],
      ];
      for (const [config, status, text] of cases) {
        const err = await errorOf(allocator.allocateForService("app", config, null));
        expect({ config, status: err.status, hit: err.message.includes(text) }).toEqual({ config, status, hit: true });
      }
      expect(await redis.client.keys("*")).toEqual([]);
    } finally {
      held.stop();
    }
  });

  test("without a host port: the preferred port, else the next usable one (skipping allocated, the gateway's and busy ports)", async () => {
    const held = holdPort();
    try {
      const first = await allocator.allocateForService("app", { name: "a", container: 1, preferred: 11000 }, null);
      expect(first.host_port).toBeGreaterThanOrEqual(11000);
      const second = await allocator.allocateForService("app", { name: "b", container: 1, preferred: first.host_port }, null);
      expect(second.host_port).toBeGreaterThan(first.host_port);
      // 11002 is the gateway's own port here.
      const skipped = await allocator.allocateForService("app", { name: "g", container: 1, preferred: 11002 }, null);
      expect(skipped.host_port).toBeGreaterThan(11002);
      // A port busy on the host is passed over.
      if (held.port >= 11000) {
        const next = await allocator.allocateForService("app", { name: "c", container: 1, preferred: held.port }, null);
        expect(next.host_port).not.toBe(held.port);
      }
      const internal = await allocator.allocateForService("app", { name: "d", container: 1, range: "internal_https" }, null);
      expect(internal.host_port).toBeGreaterThanOrEqual(10000);
      expect(internal.host_port).toBeLessThanOrEqual(10999);
    } finally {
      held.stop();
    }
  });

  test("20 concurrent automatic allocations get 20 different ports", async () => {
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => allocator.allocateForService(`svc${i}`, { name: "http", container: 80, preferred: 20000 }, null)));
    expect(new Set(got.map((a) => a.host_port)).size).toBe(20);
    expect((await stores.ports.allocatedPorts()).sort()).toEqual(got.map((a) => a.host_port).sort());
  });
});

describe("update", () => {
  test("rewrites the record and the service's entry together, keeping service, name, port and owner; a port of another service or name is left alone", async () => {
    expect((await stores.ports.claim(allocation(12345, { owner_token_hash: "sha256:owner" }))).ok).toBe(true);
    const updated = await stores.ports.update(12345, "app", "http", (current) => ({ ...current, description: "front", service_name: "evil", host_port: 1, owner_token_hash: null }));
    expect(updated).toMatchObject({ description: "front", service_name: "app", host_port: 12345, owner_token_hash: "sha256:owner" });
    expect(JSON.parse((await redis.client.get(keys.port(12345)))!).description).toBe("front");
    expect(JSON.parse((await redis.client.hget(keys.servicePorts("app"), "http"))!).description).toBe("front");
    expect(await stores.ports.update(12345, "other", "http", (c) => ({ ...c, description: "x" }))).toBeNull();
    expect(await stores.ports.update(12345, "app", "admin", (c) => ({ ...c, description: "x" }))).toBeNull();
    expect(await stores.ports.update(12346, "app", "http", (c) => ({ ...c, description: "x" }))).toBeNull();
    expect(JSON.parse((await redis.client.get(keys.port(12345)))!).description).toBe("front");
  });

  test("the allocator's update stores a source token only as its hash and refuses a bad bind address", async () => {
    const held = await allocator.allocateForService("app", { name: "web", container: 80 }, null);
    const withToken = await allocator.update(held, { source_token: "plain-secret" });
    expect(withToken).toMatchObject({ source_token_hash: hashApiToken("plain-secret"), require_token: true });
    expect(await redis.client.get(keys.port(held.host_port))).not.toContain("plain-secret");
    expect(await allocator.update(withToken, { source_token: "" })).toMatchObject({ source_token_hash: null, require_token: false });
    await expect(allocator.update(held, { bind: "10.0.0.1" })).rejects.toThrow("bind");
  });
});

describe("events", () => {
  /** The ports named by service_port_changed events on the stream, in order. */
  async function portEvents(): Promise<number[]> {
    const entries = await redis.client.xrange(keys.workflowStream, "-", "+");
    return entries
      .map(([, fields]) => Object.fromEntries(fields.map((v, i, a) => (i % 2 === 0 ? [v, a[i + 1]] : null)).filter(Boolean) as [string, string][]))
      .filter((f) => f.event_type === "service_port_changed")
      .map((f) => JSON.parse(f.data!).port as number);
  }

  test("claim, update, release, releaseService and the owner token's cascade each announce service_port_changed with the change; a refused claim does not", async () => {
    await stores.ports.claim(allocation(12001));
    expect(await stores.ports.claim(allocation(12001, { service_name: "other" }))).toMatchObject({ ok: false });
    await stores.ports.update(12001, "app", "http", (held) => ({ ...held, relay_upstream: "127.0.0.1:4000" }));
    await stores.ports.release(12001);
    await stores.ports.claim(allocation(12002, { port_name: "a" }));
    await stores.ports.claim(allocation(12003, { port_name: "b" }));
    await stores.ports.releaseService("app");
    const events = await portEvents();
    expect(events.slice(0, 5)).toEqual([12001, 12001, 12001, 12002, 12003]);
    // releaseService: one event per port, in whatever order the service's hash lists them.
    expect(events.slice(5).sort()).toEqual([12002, 12003]);

    const token = generateApiToken();
    const hash = hashApiToken(token);
    await stores.tokens.create({ name: "owner", token, hash, role: "service-owner", cert_email: null, created_at: new Date().toISOString(), created_by: null, owner_token_hash: null });
    await stores.ports.claim(allocation(12005, { owner_token_hash: hash }));
    await stores.tokens.deleteCascading("owner");
    expect(await stores.ports.get(12005)).toBeNull();
    expect((await portEvents()).slice(-2)).toEqual([12005, 12005]);
  });

  test("the allocator's update refuses a source token on a udp port (400) and writes nothing", async () => {
    await stores.ports.claim(allocation(12004, { protocol: "udp" }));
    const before = await redis.client.xlen(keys.workflowStream);
    const err = await errorOf(allocator.update((await stores.ports.get(12004))!, { source_token: "t" }));
    expect(err.status).toBe(400);
    expect(err.message).toContain("source_token");
    expect((await stores.ports.get(12004))!.source_token_hash).toBeNull();
    expect(await redis.client.xlen(keys.workflowStream)).toBe(before);
  });
});
