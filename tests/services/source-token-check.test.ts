/** The pure source-token check: which headers carry the token, what is dropped, what is refused. */
import { describe, expect, test } from "bun:test";
import { hashApiToken } from "../../src/core/api-token";
import { bearerToken, checkSourceToken, isTokenPort, sourceTokenRefusal, storedDigest, tokenMatches } from "../../src/services/source-token-check";

const TOKEN = "port-secret-123";
const digest = storedDigest(hashApiToken(TOKEN))!;
const check = (headers: Record<string, string>) => checkSourceToken(new Headers(headers), digest);

describe("storedDigest", () => {
  test("a sha256:<hex> hash gives its 32 bytes; anything else null", () => {
    expect(digest.length).toBe(32);
    expect(storedDigest("sha256:abc")).toBeNull();
    expect(storedDigest("md5:" + "0".repeat(64))).toBeNull();
    expect(storedDigest(hashApiToken(TOKEN).toUpperCase())).toBeNull();
  });
});

describe("tokenMatches", () => {
  test("the token matches; the same length with one byte changed, a prefix, and the empty string do not", () => {
    expect(tokenMatches(TOKEN, digest)).toBe(true);
    expect(tokenMatches(TOKEN.slice(0, -1) + "4", digest)).toBe(false);
    expect(tokenMatches(TOKEN.slice(0, -1), digest)).toBe(false);
    expect(tokenMatches("", digest)).toBe(false);
    // The stored hash itself is not the token.
    expect(tokenMatches(hashApiToken(TOKEN), digest)).toBe(false);
  });
});

describe("bearerToken", () => {
  const cases: [string | null, string | null][] = [
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["BEARER \tabc ", "abc"],
    ["Basic abc", null],
    ["Bearer", null],
    ["Bearer a b", null],
    ["Bearerabc", null],
    [null, null],
  ];
  for (const [header, token] of cases) test(`${JSON.stringify(header)} → ${JSON.stringify(token)}`, () => expect(bearerToken(header)).toBe(token));
});

describe("checkSourceToken", () => {
  test("no token at all → refused, saying how to send one", () => {
    const verdict = check({});
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.detail).toContain("X-Source-Token");
  });

  test("X-Source-Token right → allowed; Authorization (the backend's own) is kept", () => {
    expect(check({ "x-source-token": TOKEN })).toEqual({ ok: true, dropAuthorization: false });
    expect(check({ "x-source-token": TOKEN, authorization: "Bearer app-session" })).toEqual({ ok: true, dropAuthorization: false });
    expect(check({ "x-source-token": TOKEN, authorization: "Basic dXNlcjpwdw==" })).toEqual({ ok: true, dropAuthorization: false });
  });

  test("Bearer right → allowed, and Authorization is dropped (it carried the source token)", () => {
    expect(check({ authorization: `Bearer ${TOKEN}` })).toEqual({ ok: true, dropAuthorization: true });
    expect(check({ authorization: `Bearer ${TOKEN}`, "x-source-token": "wrong" })).toEqual({ ok: true, dropAuthorization: true });
  });

  test("wrong tokens → refused: same length, another scheme, the hash, empty", () => {
    const cases: Record<string, string>[] = [
      { "x-source-token": TOKEN.replace(/3$/, "4") },
      { authorization: `Bearer ${TOKEN.replace(/3$/, "4")}` },
      { authorization: `Basic ${TOKEN}` },
      { authorization: TOKEN },
      { "x-source-token": hashApiToken(TOKEN) },
      { "x-source-token": "" },
    ];
    for (const headers of cases) {
      const verdict = check(headers);
      expect(verdict.ok).toBe(false);
    }
  });
});

describe("isTokenPort", () => {
  test("a tcp port with a hash only", () => {
    expect(isTokenPort({ source_token_hash: hashApiToken(TOKEN), protocol: "tcp" })).toBe(true);
    expect(isTokenPort({ source_token_hash: null, protocol: "tcp" })).toBe(false);
    expect(isTokenPort({ source_token_hash: hashApiToken(TOKEN), protocol: "udp" })).toBe(false);
  });
});

test("the refusal is a 401 JSON error with a Bearer challenge", async () => {
  const response = sourceTokenRefusal("nope");
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toStartWith("Bearer ");
  expect(await response.json()).toEqual({ error: "unauthorized", detail: "nope" });
});
