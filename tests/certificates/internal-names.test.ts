/** The public/internal classifier: which names go to the local CA instead of ACME. */
import { describe, expect, test } from "bun:test";
import { isInternalName, isIpAddress, splitByIssuer } from "../../src/certificates/internal-names";

describe("isInternalName", () => {
  test.each([
    "localhost",
    "LOCALHOST.",
    "app.localhost",
    "*.localhost",
    "printer.local",
    "db.internal",
    "mcp.test",
    "test",
    "site.example",
    "nothing.invalid",
    "nas.home.arpa",
    "home.arpa",
    "*.svc.internal",
  ])("%s is internal (reserved suffix)", (name) => {
    expect(isInternalName(name)).toBe(true);
  });

  test.each(["127.0.0.1", "10.1.2.3", "::1", "[::1]", "2001:db8::1", "fe80::1"])("%s is internal (IP address)", (name) => {
    expect(isInternalName(name)).toBe(true);
    expect(isIpAddress(name)).toBe(true);
  });

  test.each(["myhost", "intranet", "*.corp"])("%s is internal (single label)", (name) => {
    expect(isInternalName(name)).toBe(true);
  });

  test.each(["example.com", "mcp.example.com", "*.example.org", "testing.com", "local.example.net", "localhost.dev", "my.test.io", "internal.company.co.uk", "arpa.io"])(
    "%s is public",
    (name) => {
      expect(isInternalName(name)).toBe(false);
      expect(isIpAddress(name)).toBe(false);
    },
  );

  test("splitByIssuer keeps the order of each kind", () => {
    expect(splitByIssuer(["a.example.com", "b.test", "c.example.org", "localhost"])).toEqual({
      internal: ["b.test", "localhost"],
      public: ["a.example.com", "c.example.org"],
    });
  });
});
