import { describe, expect, test } from "bun:test";
import { parseWrkOutput, parseWrkTime, wrkArgs } from "../../bench/wrk";

// Captured from `wrk -t1 -c50 -d3s --latency` (Debian wrk 4.1.0) on this machine.
const CLEAN = `Running 3s test @ http://127.0.0.1:35861/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   399.07us  237.78us   6.58ms   90.26%
    Req/Sec   122.88k     8.56k  131.79k    86.67%
  Latency Distribution
     50%  345.00us
     75%  397.00us
     90%  625.00us
     99%    0.93ms
  365785 requests in 3.00s, 36.98MB read
Requests/sec: 121879.91
Transfer/sec:     12.32MB
`;

// A struggling target: second-scale latencies, socket errors and non-2xx answers.
const TROUBLED = `Running 10s test @ http://127.0.0.1:8080/api/items
  2 threads and 400 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20s   310.50ms   2.00s    70.00%
    Req/Sec    95.12     40.00   200.00     65.00%
  Latency Distribution
     50%    1.10s
     75%    1.40s
     90%    1.80s
     99%    1.99s
  1890 requests in 10.02s, 300.00KB read
  Socket errors: connect 155, read 3, write 0, timeout 42
  Non-2xx or 3xx responses: 17
Requests/sec:    188.62
Transfer/sec:     29.94KB
`;

describe("parseWrkTime", () => {
  test.each([
    ["345.00us", 0.345],
    ["0.93ms", 0.93],
    ["6.58ms", 6.58],
    ["1.20s", 1200],
    ["2.00m", 120_000],
    ["1.00h", 3_600_000],
  ])("%s → %d ms", (text, ms) => {
    expect(parseWrkTime(text)).toBeCloseTo(ms, 9);
  });

  test("rejects a value without a unit", () => {
    expect(() => parseWrkTime("12.5")).toThrow(/unreadable time/);
  });
});

describe("parseWrkOutput", () => {
  test("a clean run", () => {
    const result = parseWrkOutput(CLEAN);
    expect(result.requests).toBe(365785);
    expect(result.durationSeconds).toBeCloseTo(3, 9);
    expect(result.requestsPerSecond).toBeCloseTo(121879.91, 2);
    expect(result.latencyMs.avg).toBeCloseTo(0.39907, 9);
    expect(result.latencyMs.max).toBeCloseTo(6.58, 9);
    expect(result.latencyMs.p50).toBeCloseTo(0.345, 9);
    expect(result.latencyMs.p75).toBeCloseTo(0.397, 9);
    expect(result.latencyMs.p90).toBeCloseTo(0.625, 9);
    expect(result.latencyMs.p99).toBeCloseTo(0.93, 9);
    expect(result.socketErrors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
    expect(result.non2xx3xx).toBe(0);
  });

  test("second-scale latencies, socket errors and non-2xx responses", () => {
    const result = parseWrkOutput(TROUBLED);
    expect(result.requests).toBe(1890);
    expect(result.durationSeconds).toBeCloseTo(10.02, 9);
    expect(result.requestsPerSecond).toBeCloseTo(188.62, 2);
    expect(result.latencyMs.p50).toBeCloseTo(1100, 9);
    expect(result.latencyMs.p99).toBeCloseTo(1990, 9);
    expect(result.latencyMs.max).toBeCloseTo(2000, 9);
    expect(result.socketErrors).toEqual({ connect: 155, read: 3, write: 0, timeout: 42 });
    expect(result.non2xx3xx).toBe(17);
  });

  test("without --latency there is no distribution to report", () => {
    const withoutDistribution = CLEAN.replace(/ {2}Latency Distribution\n(?: +\d+%.*\n)+/, "");
    expect(() => parseWrkOutput(withoutDistribution)).toThrow(/no 50% line/);
  });

  test("output that is not a wrk report", () => {
    expect(() => parseWrkOutput("unable to connect to 127.0.0.1:1 Connection refused\n")).toThrow(/wrk: no "Latency"/);
  });
});

describe("wrkArgs", () => {
  test("flags, headers, then the URL", () => {
    expect(wrkArgs({ url: "http://127.0.0.1:1/", seconds: 10, connections: 50, threads: 1, headers: ["Host: bench.local"] })).toEqual([
      "wrk",
      "-t1",
      "-c50",
      "-d10s",
      "--latency",
      "-H",
      "Host: bench.local",
      "http://127.0.0.1:1/",
    ]);
  });
});
