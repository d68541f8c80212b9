/** Which address a request is recorded under when load balancers are trusted. */
import { expect, test } from "bun:test";
import { parseCidrList, type CidrList } from "../../src/proxies/cidr";
import { forwardedClientIp } from "../../src/proxies/forwarded-client";

const trusted = (parseCidrList("10.0.0.0/8, fd00::/8") as { list: CidrList }).list;

test("an untrusted peer is the client, whatever it claims", () => {
  expect(forwardedClientIp("203.0.113.9", trusted, "198.51.100.1")).toBe("203.0.113.9");
});

test("behind trusted hops, the rightmost address that is not ours is the client", () => {
  expect(forwardedClientIp("10.0.0.2", trusted, "198.51.100.1")).toBe("198.51.100.1");
  expect(forwardedClientIp("10.0.0.2", trusted, "1.1.1.1, 198.51.100.1, 10.0.0.7")).toBe("198.51.100.1");
  expect(forwardedClientIp("10.0.0.2", trusted, "2001:db8::5, fd00::1")).toBe("2001:db8::5");
});

test("a forged entry left of the client is never believed; garbage stops the walk", () => {
  expect(forwardedClientIp("10.0.0.2", trusted, "6.6.6.6, 198.51.100.1")).toBe("198.51.100.1");
  expect(forwardedClientIp("10.0.0.2", trusted, "198.51.100.1, unknown, 10.0.0.7")).toBe("10.0.0.7");
  expect(forwardedClientIp("10.0.0.2", trusted, "")).toBe("10.0.0.2");
});

test("no header, or only trusted hops: the last trusted hop", () => {
  expect(forwardedClientIp("10.0.0.2", trusted, null)).toBe("10.0.0.2");
  expect(forwardedClientIp("10.0.0.2", trusted, "10.0.0.9")).toBe("10.0.0.9");
});
