/**
 * Which backend a legacy MCP session's request goes to, and what session id
 * the client is shown (src/mcp/session-affinity.ts), without sockets: the
 * routing decisions the two-node test (session-nodes.test.ts) relies on.
 */
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { compileMcpEndpoint } from "../../src/mcp/mcp-endpoint";
import { MAX_FOLLOW_SECONDS, McpSessionAffinity } from "../../src/mcp/session-affinity";
import { openSession, sealSession } from "../../src/mcp/session-seal";
import { forwardTarget } from "../../src/proxies/forward-target";
import type { ProxyRecord } from "../../src/storage/proxy-repository";

const key = new Uint8Array(randomBytes(32));
const PROXY = "mcp.example.com";
const mcp = compileMcpEndpoint({ resource_endpoint: "/mcp" } as ProxyRecord)!;
const blue = forwardTarget("http://10.0.0.1:8080", { requestHeaders: { "x-backend-key": "k1" } });
const green = forwardTarget("http://10.0.0.2:8080", { requestHeaders: { "x-backend-key": "k1" } });
const greenWithOtherHeaders = forwardTarget("http://10.0.0.2:8080", { requestHeaders: { "x-backend-key": "k2" } });

let clock = 1_800_000_000_000;
const affinity = new McpSessionAffinity(key, { now: () => clock });

const request = (method: string, session?: string, path = "/mcp") =>
  new Request(`http://${PROXY}${path}`, { method, headers: session === undefined ? {} : { "mcp-session-id": session } });
const answered = (session?: string) => new Response("{}", { headers: session === undefined ? {} : { "mcp-session-id": session } });

/** Initializes through `target` as `subject`: the id the client is shown for the backend's "server-1". */
function initialize(target = blue, subject = "alice", serverId = "server-1"): string {
  const route = affinity.route(PROXY, mcp, request("POST"), "/mcp", target, subject)!;
  expect(route.target).toBe(target);
  return route.answer(answered(serverId)).headers.get("mcp-session-id")!;
}

describe("what takes part", () => {
  test("nothing off the endpoint, nor a GET or DELETE without a session", () => {
    expect(affinity.route(PROXY, mcp, request("POST", undefined, "/health"), "/health", blue, "alice")).toBeNull();
    expect(affinity.route(PROXY, mcp, request("GET", "s1.x", "/other"), "/other", blue, "alice")).toBeNull();
    expect(affinity.route(PROXY, mcp, request("GET"), "/mcp", blue, "alice")).toBeNull();
    expect(affinity.route(PROXY, mcp, request("DELETE"), "/mcp", blue, "alice")).toBeNull();
  });

  test("a POST without a session whose answer has none (a 2026-07-28 or stateless server) is left as it is", () => {
    const route = affinity.route(PROXY, mcp, request("POST"), "/mcp", blue, "alice")!;
    const response = answered();
    expect(route.answer(response)).toBe(response);
    expect(response.headers.has("mcp-session-id")).toBe(false);
  });
});

describe("a session", () => {
  test("the backend's id is shown sealed, and comes back to it as the backend's own", () => {
    const shown = initialize();
    expect(shown).not.toBe("server-1");
    expect(openSession(key, shown, { proxy: PROXY, subject: "alice" })).toMatchObject({ target: blue.url.href, serverSessionId: "server-1" });
    const next = request("POST", shown);
    const route = affinity.route(PROXY, mcp, next, "/mcp", blue, "alice")!;
    expect(route.target).toBe(blue);
    expect(next.headers.get("mcp-session-id")).toBe("server-1");
    // The backend names the session in its answer again: the client keeps the id it has.
    expect(route.answer(answered("server-1")).headers.get("mcp-session-id")).toBe(shown);
  });

  test("after a switch to another target, it stays on the backend that holds it; a new session goes to the new one", () => {
    const shown = initialize(blue);
    for (const method of ["POST", "GET", "DELETE"]) {
      const next = request(method, shown);
      const route = affinity.route(PROXY, mcp, next, "/mcp", green, "alice")!;
      expect(route.target.url.href).toBe(blue.url.href);
      expect(route.target.requestHeaders).toEqual(blue.requestHeaders);
      expect(next.headers.get("mcp-session-id")).toBe("server-1");
      expect(route.answer(answered("server-1")).headers.get("mcp-session-id")).toBe(shown);
    }
    const fresh = initialize(green, "alice", "server-2");
    expect(openSession(key, fresh, { proxy: PROXY, subject: "alice" })).toMatchObject({ target: green.url.href, serverSessionId: "server-2" });
  });

  test("the old backend is built once per current target, not per request", () => {
    const shown = initialize(blue);
    const first = affinity.route(PROXY, mcp, request("POST", shown), "/mcp", green, "alice")!.target;
    expect(affinity.route(PROXY, mcp, request("POST", shown), "/mcp", green, "alice")!.target).toBe(first);
  });

  test("it leaves the old backend when the proxy forwards differently now (its headers were meant for the new one)", () => {
    const shown = initialize(blue);
    const next = request("POST", shown);
    expect(affinity.route(PROXY, mcp, next, "/mcp", greenWithOtherHeaders, "alice")!.target).toBe(greenWithOtherHeaders);
  });

  test(`it follows an old backend for at most ${MAX_FOLLOW_SECONDS} s, then goes to the current target, which may take it`, () => {
    const shown = initialize(blue);
    clock += (MAX_FOLLOW_SECONDS + 1) * 1000;
    try {
      const next = request("POST", shown);
      const route = affinity.route(PROXY, mcp, next, "/mcp", green, "alice")!;
      expect(route.target).toBe(green);
      expect(next.headers.get("mcp-session-id")).toBe("server-1");
      // The current backend knows the id (the same server under a new URL): the session is sealed to it from now on.
      const resealed = route.answer(answered("server-1")).headers.get("mcp-session-id")!;
      expect(resealed).not.toBe(shown);
      expect(openSession(key, resealed, { proxy: PROXY, subject: "alice" })).toMatchObject({ target: green.url.href, serverSessionId: "server-1" });
      // On its own target, age does not matter.
      expect(affinity.route(PROXY, mcp, request("POST", shown), "/mcp", blue, "alice")!.target).toBe(blue);
    } finally {
      clock -= (MAX_FOLLOW_SECONDS + 1) * 1000;
    }
  });

  test("a new id from the backend mid-session is sealed in turn", () => {
    const shown = initialize(blue);
    const route = affinity.route(PROXY, mcp, request("POST", shown), "/mcp", blue, "alice")!;
    const renewed = route.answer(answered("server-9")).headers.get("mcp-session-id")!;
    expect(openSession(key, renewed, { proxy: PROXY, subject: "alice" })).toMatchObject({ target: blue.url.href, serverSessionId: "server-9" });
  });

  test("an id the backend sends that MCP does not allow is passed on as it is", () => {
    const route = affinity.route(PROXY, mcp, request("POST"), "/mcp", blue, "alice")!;
    expect(route.answer(answered("has space")).headers.get("mcp-session-id")).toBe("has space");
  });
});

describe("ids that do not choose the backend", () => {
  const refused = (id: string, subject: string | undefined, proxy = PROXY) => {
    const next = request("POST", id);
    const route = affinity.route(proxy, mcp, next, "/mcp", green, subject)!;
    // To the current target, with the id exactly as the client sent it: the backend answers 404 for a session it does not know.
    expect(route.target).toBe(green);
    expect(next.headers.get("mcp-session-id")).toBe(id);
  };

  test("forged, altered or raw", () => {
    const shown = initialize(blue);
    refused("server-1", "alice");
    refused(shown.slice(0, -2) + (shown.endsWith("AA") ? "BB" : "AA"), "alice");
    refused("s1." + "A".repeat(80), "alice");
  });

  test("sealed by the gateway for a target the client chose: impossible without the key", () => {
    const otherKey = new Uint8Array(randomBytes(32));
    const forged = sealSession(otherKey, { target: "http://169.254.169.254/", settings: "x", serverSessionId: "x", sealedAt: clock / 1000 }, { proxy: PROXY, subject: "alice" })!;
    refused(forged, "alice");
  });

  test("another user's session (with their own valid token), or the session without a token", () => {
    const shown = initialize(blue, "alice");
    refused(shown, "bob");
    refused(shown, undefined);
  });

  test("an id already opened (kept for the next request) still opens only for its own user and proxy", () => {
    const shown = initialize(blue, "alice");
    expect(affinity.route(PROXY, mcp, request("POST", shown), "/mcp", green, "alice")!.target.url.href).toBe(blue.url.href);
    refused(shown, "bob");
    refused(shown, "alice", "other.example.com");
    expect(affinity.route(PROXY, mcp, request("POST", shown), "/mcp", green, "alice")!.target.url.href).toBe(blue.url.href);
  });

  test("after the client's DELETE the id still routes the same way (the backend answers for the ended session)", () => {
    const shown = initialize(blue, "alice");
    for (const method of ["POST", "DELETE", "POST"]) {
      expect(affinity.route(PROXY, mcp, request(method, shown), "/mcp", green, "alice")!.target.url.href).toBe(blue.url.href);
    }
  });

  test("another proxy's session", () => {
    const shown = initialize(blue, "alice");
    refused(shown, "alice", "other.example.com");
  });

  test("a raw id the current backend accepts (a session from before the gateway sealed ids) is sealed from its answer on", () => {
    const next = request("POST", "server-old");
    const route = affinity.route(PROXY, mcp, next, "/mcp", green, "alice")!;
    const sealed = route.answer(answered("server-old")).headers.get("mcp-session-id")!;
    expect(openSession(key, sealed, { proxy: PROXY, subject: "alice" })).toMatchObject({ target: green.url.href, serverSessionId: "server-old" });
  });
});
