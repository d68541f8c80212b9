import { describe, expect, test } from "bun:test";
import { behindEgressProxy } from "../../src/certificates/acme-issuer";

describe("behindEgressProxy: when the direct reachability check of the CA is skipped", () => {
  test("any proxy variable the CA's HTTP client honours, in either case", () => {
    for (const name of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]) {
      expect(behindEgressProxy({ [name]: "http://proxy.internal:3128" })).toBe(true);
    }
  });

  test("no proxy, or an empty one, means a direct connection is what the CA's client makes too", () => {
    expect(behindEgressProxy({})).toBe(false);
    expect(behindEgressProxy({ HTTPS_PROXY: "", NO_PROXY: "*" })).toBe(false);
  });
});
