import { describe, expect, test } from "bun:test";
import { parseCidrList, type CidrList } from "../../src/proxies/cidr";

const list = (text: string): CidrList => {
  const parsed = parseCidrList(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.list;
};

describe("parseCidrList", () => {
  test("empty trusts no one", () => {
    const empty = list("");
    expect(empty.ranges).toEqual([]);
    for (const ip of ["127.0.0.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", ""]) expect(empty.contains(ip)).toBe(false);
  });

  test("IPv4 ranges, comma or space separated, bare addresses as /32", () => {
    const l = list("10.0.0.0/8, 192.168.1.0/24 172.16.5.4");
    expect(l.ranges).toEqual(["10.0.0.0/8", "192.168.1.0/24", "172.16.5.4/32"]);
    expect(l.contains("10.255.1.2")).toBe(true);
    expect(l.contains("11.0.0.1")).toBe(false);
    expect(l.contains("192.168.1.77")).toBe(true);
    expect(l.contains("192.168.2.1")).toBe(false);
    expect(l.contains("172.16.5.4")).toBe(true);
    expect(l.contains("172.16.5.5")).toBe(false);
  });

  test("IPv4 ranges match IPv4-mapped IPv6 peers and the reverse", () => {
    expect(list("10.0.0.0/8").contains("::ffff:10.1.2.3")).toBe(true);
    expect(list("10.0.0.0/8").contains("::ffff:a01:203")).toBe(true);
    expect(list("::ffff:10.0.0.0/104").contains("10.9.9.9")).toBe(true);
    expect(list("::ffff:10.0.0.0/104").contains("11.9.9.9")).toBe(false);
  });

  test("IPv6 ranges, compressed forms, zones and brackets", () => {
    const l = list("2001:db8::/32 ::1 fe80::/10");
    expect(l.contains("2001:db8:1234::5")).toBe(true);
    expect(l.contains("2001:0db8:0:0:0:0:0:1")).toBe(true);
    expect(l.contains("2001:db9::1")).toBe(false);
    expect(l.contains("::1")).toBe(true);
    expect(l.contains("[::1]")).toBe(true);
    expect(l.contains("::2")).toBe(false);
    expect(l.contains("fe80::1%eth0")).toBe(true);
    expect(l.contains("127.0.0.1")).toBe(false);
  });

  test("/0 matches everything of its family", () => {
    expect(list("0.0.0.0/0").contains("203.0.113.9")).toBe(true);
    expect(list("0.0.0.0/0").contains("2001:db8::1")).toBe(false);
    expect(list("::/0").contains("2001:db8::1")).toBe(true);
    expect(list("::/0").contains("203.0.113.9")).toBe(true);
  });

  test("non-boundary prefixes", () => {
    const l = list("192.168.0.0/23, 2001:db8:8000::/33");
    expect(l.contains("192.168.1.255")).toBe(true);
    expect(l.contains("192.168.2.0")).toBe(false);
    expect(l.contains("2001:db8:8000::1")).toBe(true);
    expect(l.contains("2001:db8:7fff::1")).toBe(false);
  });

  test("garbage peers never match and never throw", () => {
    const l = list("0.0.0.0/0, ::/0");
    for (const ip of ["", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1::2::3", ":::", "g::1", "1:2:3:4:5:6:7:8:9"]) {
      expect(l.contains(ip)).toBe(false);
    }
  });

  test("bad entries are reported with the offending text", () => {
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8/8", "example.com", "10.0.0.256", "1::2::3/64", "10.0.0.0/-1", "10.0.0.0/08x"]) {
      const parsed = parseCidrList(`127.0.0.1, ${bad}`);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toContain(bad);
    }
  });
});
