/** Sealed MCP session ids (src/mcp/session-seal.ts), as pure functions: what opens, and everything that must not. */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { MAX_SEALED_LENGTH, SEALED_PREFIX, openSession, sealSession, type SessionRecord } from "../../src/mcp/session-seal";

const key = new Uint8Array(randomBytes(32));
const record: SessionRecord = { target: "http://10.0.0.1:8080/", settings: "digest-of-settings", serverSessionId: "0f7c6a1e-5b7d-4a44-9d0e-1b2c3d4e5f60", sealedAt: 1_800_000_000 };
const alice = { proxy: "mcp.example.com", subject: "github|1" };
const sealed = sealSession(key, record, alice)!;

describe("a sealed id", () => {
  test("opens to the record it was sealed from, for the same proxy and user", () => {
    expect(openSession(key, sealed, alice)).toEqual(record);
  });

  test("is visible ASCII, as MCP requires, and tells the client neither the backend nor the server's id", () => {
    expect(sealed).toMatch(/^[\x21-\x7e]+$/);
    expect(sealed.startsWith(SEALED_PREFIX)).toBe(true);
    expect(sealed).not.toContain("10.0.0.1");
    expect(sealed).not.toContain(record.serverSessionId);
    expect(Buffer.from(sealed.slice(SEALED_PREFIX.length), "base64url").toString("latin1")).not.toContain("10.0.0.1");
  });

  test("differs every time for the same record (fresh IV), and each opens", () => {
    const again = sealSession(key, record, alice)!;
    expect(again).not.toBe(sealed);
    expect(openSession(key, again, alice)).toEqual(record);
  });

  test("works for a proxy without auth (no subject)", () => {
    const anonymous = { proxy: "mcp.example.com", subject: "" };
    expect(openSession(key, sealSession(key, record, anonymous)!, anonymous)).toEqual(record);
  });
});

describe("what does not open", () => {
  test("another proxy's id", () => {
    expect(openSession(key, sealed, { ...alice, proxy: "other.example.com" })).toBeNull();
  });

  test("another user's id (a second user's token with the first user's session)", () => {
    expect(openSession(key, sealed, { ...alice, subject: "github|2" })).toBeNull();
    expect(openSession(key, sealed, { ...alice, subject: "" })).toBeNull();
  });

  test("no shifting of the proxy/subject boundary", () => {
    const split = { proxy: "a.example.com", subject: "b" };
    const id = sealSession(key, record, split)!;
    expect(openSession(key, id, { proxy: "a.example.comb", subject: "" })).toBeNull();
    expect(openSession(key, id, { proxy: "a.example.co", subject: "mb" })).toBeNull();
  });

  test("an id sealed with another key (another cluster)", () => {
    expect(openSession(new Uint8Array(randomBytes(32)), sealed, alice)).toBeNull();
  });

  test("any altered character", () => {
    const body = sealed.slice(SEALED_PREFIX.length);
    for (let i = 0; i < body.length; i++) {
      const swapped = body[i] === "A" ? "B" : "A";
      const altered = SEALED_PREFIX + body.slice(0, i) + swapped + body.slice(i + 1);
      expect(openSession(key, altered, alice)).toBeNull();
    }
  });

  test.each([
    ["empty", ""],
    ["the prefix alone", SEALED_PREFIX],
    ["a raw server id", record.serverSessionId],
    ["truncated", sealed.slice(0, -1)],
    ["cut to the IV", sealed.slice(0, SEALED_PREFIX.length + 16)],
    ["extended", sealed + "AA"],
    ["with padding", sealed + "=="],
    ["base64 instead of base64url", sealed.replace(/-/g, "+").replace(/_/g, "/") + (sealed.includes("-") || sealed.includes("_") ? "" : "+")],
    ["with spaces inside", sealed.slice(0, 10) + " " + sealed.slice(10)],
    ["another prefix", "s2." + sealed.slice(SEALED_PREFIX.length)],
    ["oversized", SEALED_PREFIX + "A".repeat(MAX_SEALED_LENGTH)],
    ["non-ASCII", sealed + "é"],
  ])("%s", (_, value) => {
    expect(openSession(key, value, alice)).toBeNull();
  });
});

describe("what is not sealed", () => {
  test("a server id that is not visible ASCII (MCP forbids it): the gateway passes it on unsealed", () => {
    expect(sealSession(key, { ...record, serverSessionId: "has space" }, alice)).toBeNull();
    expect(sealSession(key, { ...record, serverSessionId: "" }, alice)).toBeNull();
    expect(sealSession(key, { ...record, serverSessionId: "tab\there" }, alice)).toBeNull();
  });

  test("a record whose id would be longer than an id the gateway opens", () => {
    expect(sealSession(key, { ...record, serverSessionId: "x".repeat(MAX_SEALED_LENGTH) }, alice)).toBeNull();
    const longest = sealSession(key, { ...record, serverSessionId: "x".repeat(600) }, alice);
    expect(longest!.length).toBeLessThanOrEqual(MAX_SEALED_LENGTH);
  });

  test("a target or settings with a line break (they would shift the record's fields)", () => {
    expect(sealSession(key, { ...record, target: "http://a/\nb" }, alice)).toBeNull();
    expect(sealSession(key, { ...record, settings: "a\nb" }, alice)).toBeNull();
  });
});
