/**
 * The encrypted-secret format of `export --include-secrets` (pc1: AES-256-GCM,
 * scrypt key) and where the passphrase may come from.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ENVELOPE_PATTERN, EnvelopeError, openSecret, sealSecret } from "../../src/cli/declarative/secret-envelope";
import { PASSPHRASE_ENV, readPassphrase } from "../../src/cli/passphrase";
import { tempDir } from "../helpers/temp";

const SECRET = "3f1c9e0b7a5d4c2e8f6a1b0c9d8e7f6a5b4c3d2e";
const PASSPHRASE = "correct horse battery staple";

describe("pc1 envelope", () => {
  test("round trip; the string is versioned, holds no plaintext, and each seal has its own salt and iv", () => {
    const sealed = sealSecret(SECRET, PASSPHRASE);
    expect(sealed).toMatch(new RegExp(ENVELOPE_PATTERN));
    expect(sealed.startsWith("pc1:")).toBe(true);
    expect(sealed).not.toContain(SECRET);
    expect(openSecret(sealed, PASSPHRASE)).toBe(SECRET);
    const again = sealSecret(SECRET, PASSPHRASE);
    expect(again.split(":")[1]).not.toBe(sealed.split(":")[1]);
    expect(again.split(":")[2]).not.toBe(sealed.split(":")[2]);
    expect(openSecret(again, PASSPHRASE)).toBe(SECRET);
  });

  test("a wrong passphrase does not open it, and the error does not quote either passphrase", () => {
    const sealed = sealSecret(SECRET, PASSPHRASE);
    let thrown: unknown;
    try {
      openSecret(sealed, "correct horse battery stapler");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EnvelopeError);
    expect(String(thrown)).toContain("wrong passphrase");
    expect(String(thrown)).not.toContain("horse");
  });

  test("any changed part (salt, iv, ciphertext, tag, version) is refused", () => {
    const sealed = sealSecret(SECRET, PASSPHRASE);
    const [version, salt, iv, body] = sealed.split(":") as [string, string, string, string];
    const flip = (part: string, at: number) => {
      const bytes = Buffer.from(part, "base64url");
      bytes[at] = bytes[at]! ^ 1;
      return bytes.toString("base64url");
    };
    const tampered = [
      [version, flip(salt, 0), iv, body],
      [version, salt, flip(iv, 0), body],
      [version, salt, iv, flip(body, 0)],
      [version, salt, iv, flip(body, Buffer.from(body, "base64url").length - 1)],
      ["pc2", salt, iv, body],
      [version, salt, iv],
    ].map((parts) => parts.join(":"));
    for (const value of tampered) expect(() => openSecret(value, PASSPHRASE)).toThrow(EnvelopeError);
  });
});

describe("passphrase", () => {
  const dir = tempDir("passphrase");

  test("from --passphrase-file (one trailing newline dropped), else the environment variable; the file wins", async () => {
    const file = join(dir, "pass");
    await Bun.write(file, `${PASSPHRASE}\n`);
    expect(await readPassphrase({ file, env: { [PASSPHRASE_ENV]: "from the environment" } }, { confirm: false })).toBe(PASSPHRASE);
    expect(await readPassphrase({ env: { [PASSPHRASE_ENV]: "from the environment" } }, { confirm: false })).toBe("from the environment");
  });

  test("asked on the terminal (twice when confirming); refused without a source, too short, or two different answers", async () => {
    const answers = ["first passphrase", "first passphrase"];
    expect(await readPassphrase({ env: {}, ask: async () => answers.shift()! }, { confirm: true })).toBe("first passphrase");
    await expect(readPassphrase({ env: {} }, { confirm: false })).rejects.toThrow(/--passphrase-file FILE or set PORTCULLIS_EXPORT_PASSPHRASE/);
    await expect(readPassphrase({ env: { [PASSPHRASE_ENV]: "short" } }, { confirm: false })).rejects.toThrow(/too short/);
    const differ = ["first passphrase", "second passphrase"];
    await expect(readPassphrase({ env: {}, ask: async () => differ.shift()! }, { confirm: true })).rejects.toThrow(/differ/);
    await expect(readPassphrase({ file: join(dir, "missing"), env: {} }, { confirm: false })).rejects.toThrow(/no such file/);
  });
});
