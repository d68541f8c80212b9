/** PKCE S256 (RFC 7636): the Appendix B vector, and inputs that must be refused. */
import { describe, expect, test } from "bun:test";
import { isValidCodeChallenge, isValidCodeVerifier, pkceS256Matches } from "../../../src/auth/tokens/pkce";

// RFC 7636 Appendix B.
const RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

describe("pkceS256Matches", () => {
  test("RFC 7636 Appendix B: the verifier matches its challenge", () => {
    expect(pkceS256Matches(RFC_VERIFIER, RFC_CHALLENGE)).toBe(true);
  });

  test("a different verifier, or a challenge differing in one character, does not match", () => {
    expect(pkceS256Matches(RFC_VERIFIER.replace("d", "e"), RFC_CHALLENGE)).toBe(false);
    expect(pkceS256Matches(RFC_VERIFIER, RFC_CHALLENGE.slice(0, -1) + "N")).toBe(false);
  });

  test("plain PKCE (challenge = verifier) is not accepted", () => {
    const verifier = "a".repeat(43);
    expect(pkceS256Matches(verifier, verifier)).toBe(false);
  });

  test("malformed inputs are refused, not thrown on", () => {
    for (const [verifier, challenge] of [
      ["", RFC_CHALLENGE],
      [RFC_VERIFIER, ""],
      [RFC_VERIFIER, RFC_CHALLENGE + "="],
      [RFC_VERIFIER, RFC_CHALLENGE.slice(0, 42)],
      [RFC_VERIFIER + " ", RFC_CHALLENGE],
      [null as unknown as string, RFC_CHALLENGE],
      [RFC_VERIFIER, 42 as unknown as string],
    ]) {
      expect(pkceS256Matches(verifier!, challenge!)).toBe(false);
    }
  });
});

describe("isValidCodeVerifier", () => {
  test.each([
    ["43 unreserved characters", "a".repeat(43), true],
    ["128 characters", "Z9-._~".repeat(21) + "ab", true],
    ["42 characters", "a".repeat(42), false],
    ["129 characters", "a".repeat(129), false],
    ["a space", "a".repeat(42) + " ", false],
    ["a plus sign", "a".repeat(42) + "+", false],
    ["a slash", "a".repeat(42) + "/", false],
    ["non-ASCII", "a".repeat(42) + "é", false],
  ])("%s", (_, verifier, valid) => {
    expect(isValidCodeVerifier(verifier)).toBe(valid);
  });
});

describe("isValidCodeChallenge", () => {
  test.each([
    ["the RFC challenge", RFC_CHALLENGE, true],
    ["43 base64url characters", "-_".repeat(21) + "A", true],
    ["padded", RFC_CHALLENGE + "=", false],
    ["standard base64 alphabet", RFC_CHALLENGE.replace("-", "+"), false],
    ["44 characters", RFC_CHALLENGE + "A", false],
    ["a verifier-only character", RFC_CHALLENGE.slice(0, 42) + "~", false],
  ])("%s", (_, challenge, valid) => {
    expect(isValidCodeChallenge(challenge)).toBe(valid);
  });
});
