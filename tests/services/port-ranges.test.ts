/**
 * The spec's port ranges, restricted ports and the gateway's own listeners:
 * table tests of the pure checks and the free-run arithmetic.
 */
import { describe, expect, test } from "bun:test";
import {
  availability,
  bindAddressesConflict,
  candidates,
  freeRuns,
  isBindAddress,
  isPortNumber,
  rangeByKind,
  rangeOf,
  restrictionReason,
  unusablePorts,
} from "../../src/services/port-ranges";

const GATEWAY = [
  { setting: "API_PORT", port: 9000 },
  { setting: "PROXY_PROTOCOL_PORT", port: 10001 },
];

describe("port ranges", () => {
  test.each([
    [8999, null],
    [9000, "internal_http"],
    [9999, "internal_http"],
    [10000, "internal_https"],
    [10999, "internal_https"],
    [11000, "exposed"],
    [65535, "exposed"],
    [3000, null],
  ])("port %p lies in %p", (port, kind) => {
    expect(rangeOf(port)?.kind ?? null).toBe(kind as never);
  });

  test.each([22, 25, 53, 80, 443, 3306, 5432, 6379, 27017])("restricted port %p is refused with the service that owns it", (port) => {
    expect(restrictionReason(port, [])).toMatch(new RegExp(`^port ${port} is restricted \\(system reserved: \\w+\\)$`));
  });

  test("the gateway's own listening ports are refused naming their setting", () => {
    expect(restrictionReason(9000, GATEWAY)).toBe("port 9000 is the gateway's own listening port (API_PORT)");
    expect(restrictionReason(10001, GATEWAY)).toBe("port 10001 is the gateway's own listening port (PROXY_PROTOCOL_PORT)");
    expect(restrictionReason(9001, GATEWAY)).toBeNull();
    expect(restrictionReason(11000, [])).toBeNull();
  });

  test.each([0, -1, 65536, 1.5, Number.NaN])("%p is not a port number", (port) => {
    expect(isPortNumber(port)).toBe(false);
    expect(restrictionReason(port, [])).toContain("is not a port number");
  });

  test("only 127.0.0.1 and 0.0.0.0 are bind addresses", () => {
    expect(isBindAddress("127.0.0.1")).toBe(true);
    expect(isBindAddress("0.0.0.0")).toBe(true);
    for (const bad of ["localhost", "::", "10.0.0.1", "", 1, null]) expect(isBindAddress(bad)).toBe(false);
  });

  test("bind addresses: 0.0.0.0 conflicts with everything, one address with itself", () => {
    expect(bindAddressesConflict("127.0.0.1", "127.0.0.1")).toBe(true);
    expect(bindAddressesConflict("127.0.0.1", "0.0.0.0")).toBe(true);
    expect(bindAddressesConflict("0.0.0.0", "127.0.0.1")).toBe(true);
    expect(bindAddressesConflict("0.0.0.0", "0.0.0.0")).toBe(true);
  });

  test("freeRuns compresses the free ports of a range into [first, last] pairs", () => {
    expect(freeRuns(10, 20, [])).toEqual([[10, 20]]);
    expect(freeRuns(10, 20, [10, 20])).toEqual([[11, 19]]);
    expect(freeRuns(10, 20, [12, 13, 13, 17, 5, 25])).toEqual([[10, 11], [14, 16], [18, 20]]);
    expect(freeRuns(10, 12, [10, 11, 12])).toEqual([]);
  });

  test("availability leaves out restricted, gateway and allocated ports", () => {
    const [http, https, exposed] = availability([9005, 11000], GATEWAY);
    expect(http).toMatchObject({ kind: "internal_http", free: [[9001, 9004], [9006, 9999]], free_count: 998 });
    expect(https).toMatchObject({ kind: "internal_https", free: [[10000, 10000], [10002, 10999]], free_count: 999 });
    // 27017 is restricted and inside the exposed range.
    expect(exposed).toMatchObject({ kind: "exposed", free: [[11001, 27016], [27018, 65535]], free_count: 65535 - 11001 + 1 - 1 });
    expect(unusablePorts(GATEWAY)).toEqual([22, 25, 53, 80, 443, 3306, 5432, 6379, 9000, 10001, 27017]);
  });

  test("candidates start at the preferred port, run to the end, then wrap to the start", () => {
    const range = { ...rangeByKind("internal_http"), start: 1, end: 5 };
    expect([...candidates(range, 3)]).toEqual([3, 4, 5, 1, 2]);
    expect([...candidates(range)]).toEqual([1, 2, 3, 4, 5]);
    expect([...candidates(range, 99)]).toEqual([1, 2, 3, 4, 5]);
  });
});
