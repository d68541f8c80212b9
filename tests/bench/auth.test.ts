import { describe, expect, test } from "bun:test";
import { audienceOf, AUTH_VARIANT, authDescription, authRatioNote, authTarget, best } from "../../bench/auth";
import type { HttpScenario } from "../../bench/report";
import { shownHeader } from "../../bench/scenarios";
import type { WrkResult } from "../../bench/wrk";

const run = (name: string, requestsPerSecond: number): HttpScenario => ({
  name,
  description: "",
  command: "",
  result: {
    requests: requestsPerSecond * 10,
    durationSeconds: 10,
    requestsPerSecond,
    latencyMs: { avg: 1, max: 2, p50: 1, p75: 1, p90: 1, p99: 2 },
    socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 },
    non2xx3xx: 0,
  } satisfies WrkResult,
});
const failed = (name: string): HttpScenario => ({ name, description: "", command: "", error: "wrk exited with 1" });

describe("shownHeader", () => {
  test("a bearer token never reaches the printed command", () => {
    expect(shownHeader("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln")).toBe("Authorization: Bearer <token>");
    expect(shownHeader("authorization: bearer abc")).toBe("authorization: bearer <token>");
  });

  test("other headers are shown as they are", () => {
    expect(shownHeader("Host: bench.local")).toBe("Host: bench.local");
    expect(shownHeader("Authorization: Basic YTpi")).toBe("Authorization: Basic YTpi");
  });
});

describe("the authenticated scenario's target", () => {
  test("the token is for the https resource of the host wrk names", () => {
    const target = authTarget(8080, "tok");
    expect(target.host).toBe(AUTH_VARIANT.host);
    expect(target.headers).toEqual(["Authorization: Bearer tok"]);
    expect(audienceOf(AUTH_VARIANT)).toBe(`https://${AUTH_VARIANT.host}`);
    expect(authDescription()).toContain(`for https://${AUTH_VARIANT.host}`);
    expect(authDescription({ host: "x.local", passHeaders: false })).toContain("auth_pass_headers off");
  });
});

describe("best", () => {
  test("the run with the most requests per second; a failed run counts as none", () => {
    expect(best([run("a", 10), run("a", 30), run("a", 20)]).result?.requestsPerSecond).toBe(30);
    expect(best([failed("a"), run("a", 5)]).result?.requestsPerSecond).toBe(5);
    expect(best([failed("a")]).error).toBe("wrk exited with 1");
  });
});

describe("authRatioNote", () => {
  test("both ratios, per round and for the best of each, against the 0.9 target", () => {
    const note = authRatioNote(
      [
        [run("a", 50_000), run("e", 45_000)],
        [run("a", 40_000), run("e", 38_000)],
      ],
      60_000,
    );
    expect(note).toBe(
      "Authenticated proxying (target ≥ 0.90× both): (e) ÷ (a) = 0.90×, meets (best of 2 alternating rounds each; per round 0.90×, 0.95×); " +
        "(e) ÷ nginx = 0.75×, misses (worst round of (e) 0.63×).",
    );
  });

  test("a failed round shows as a dash and is left out", () => {
    const note = authRatioNote(
      [
        [run("a", 50_000), failed("e")],
        [run("a", 40_000), run("e", 30_000)],
      ],
      undefined,
    );
    expect(note).toBe(
      "Authenticated proxying (target ≥ 0.90× both): (e) ÷ (a) = 0.60×, misses (best of 2 alternating rounds each; per round –, 0.75×); (e) ÷ nginx: no nginx result in this run.",
    );
  });

  test("with nginx + forwarding headers, (e) and (a) are also given against it", () => {
    const note = authRatioNote([[run("a", 50_000), run("e", 45_000)]], 60_000, 50_000);
    expect(note).toEndWith("; (e) ÷ nginx + forwarding headers = 0.90×, (a) ÷ it = 1.00×.");
  });

  test("no note without numbers for both", () => {
    expect(authRatioNote([[failed("a"), run("e", 1)]], 1)).toBeUndefined();
    expect(authRatioNote([[run("a", 1), failed("e")]], 1)).toBeUndefined();
  });
});
