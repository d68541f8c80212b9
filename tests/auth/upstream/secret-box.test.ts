import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadSecretsKey, SecretBox, SECRETS_KEY_FILE } from "../../../src/core/secret-box";
import { tempDir } from "../../helpers/temp";

const key = () => new Uint8Array(randomBytes(32));

describe("SecretBox", () => {
  test("round trip, a fresh IV every time, no plaintext in the sealed form", () => {
    const box = new SecretBox(key());
    const secret = "0123456789abcdef0123456789abcdef01234567 ünïcödé";
    const a = box.seal(secret);
    const b = box.seal(secret);
    expect(a).toStartWith("v1:");
    expect(a).not.toBe(b);
    expect(a).not.toContain("0123456789abcdef");
    expect(Buffer.from(a.slice(3), "base64url").length).toBe(12 + Buffer.byteLength(secret) + 16);
    expect(box.open(a)).toBe(secret);
    expect(box.open(b)).toBe(secret);
    expect(box.open(box.seal(""))).toBe("");
  });

  test("any altered byte is detected", () => {
    const box = new SecretBox(key());
    const raw = Buffer.from(box.seal("client-secret").slice(3), "base64url");
    for (const index of [0, 11, 12, raw.length - 17, raw.length - 1]) {
      const tampered = Buffer.from(raw);
      tampered[index]! ^= 0x01;
      expect(() => box.open("v1:" + tampered.toString("base64url"))).toThrow(/altered or sealed with another key/);
    }
    expect(() => box.open("v1:" + raw.subarray(0, 20).toString("base64url"))).toThrow();
    expect(() => box.open("v1:AAAA")).toThrow(/truncated/);
    expect(() => box.open("client-secret")).toThrow(/v1: prefix/);
  });

  test("another key cannot open it", () => {
    const sealed = new SecretBox(key()).seal("client-secret");
    expect(() => new SecretBox(key()).open(sealed)).toThrow(/another key/);
  });

  test("a key must be 32 bytes", () => {
    expect(() => new SecretBox(new Uint8Array(16))).toThrow(/32 bytes/);
  });
});

describe("loadSecretsKey", () => {
  test("OAUTH_SECRETS_KEY wins and no file is written", () => {
    const dir = tempDir("secrets");
    const configured = key();
    expect(loadSecretsKey(configured, dir)).toEqual(configured);
    expect(existsSync(join(dir, SECRETS_KEY_FILE))).toBe(false);
  });

  test("otherwise a key file is made once, mode 0600, and reused", () => {
    const dir = join(tempDir("secrets"), "data");
    const first = loadSecretsKey(null, dir);
    const file = join(dir, SECRETS_KEY_FILE);
    expect(first.length).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const second = loadSecretsKey(null, dir);
    expect(second).toEqual(first);
    // A secret sealed before a restart opens after it.
    expect(new SecretBox(second).open(new SecretBox(first).seal("kept"))).toBe("kept");
    expect(readdirSync(dir)).toEqual([SECRETS_KEY_FILE]);
  });

  test("a damaged key file stops start-up with its name", () => {
    const dir = tempDir("secrets");
    writeFileSync(join(dir, SECRETS_KEY_FILE), "short");
    expect(() => loadSecretsKey(null, dir)).toThrow(/secrets\.key: expected 32 bytes, found 5/);
  });
});
