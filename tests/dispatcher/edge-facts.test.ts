/** The scheme and host the resource URL is built from: X-Forwarded-* count only from trusted peers. */
import { describe, expect, test } from "bun:test";
import { resourceUrlFor } from "../../src/auth/edge/request-origin";
import { clientFacts } from "../../src/dispatcher/edge-auth";

const request = (headers: Record<string, string>) => new Request("http://10.0.0.1/mcp", { headers });

describe("clientFacts", () => {
  test("behind a trusted load balancer, X-Forwarded-Proto and -Host describe what the client connected to", () => {
    const facts = clientFacts(request({ host: "10.0.0.1:8080", "x-forwarded-proto": "https", "x-forwarded-host": "mcp.example.com" }), "http", "/mcp", true);
    expect(facts).toEqual({ proto: "https", host: "mcp.example.com", path: "/mcp" });
    expect(resourceUrlFor(facts.proto, facts.host, "/mcp")).toBe("https://mcp.example.com/mcp");
  });

  test("from anyone else they are ignored: the listener's scheme and the Host header", () => {
    const facts = clientFacts(request({ host: "mcp.example.com:8443", "x-forwarded-proto": "http", "x-forwarded-host": "evil.example" }), "https", "/mcp", false);
    expect(facts).toEqual({ proto: "https", host: "mcp.example.com:8443", path: "/mcp" });
    expect(resourceUrlFor(facts.proto, facts.host, "/mcp")).toBe("https://mcp.example.com:8443/mcp");
  });

  test("a forwarded scheme other than http or https is not believed", () => {
    expect(clientFacts(request({ host: "a.example", "x-forwarded-proto": "gopher" }), "https", "/", true).proto).toBe("https");
  });
});
