/** known_hosts parsing and host key pinning for DOCKER_HOST=ssh:// (src/services/known-hosts.ts). */
import { describe, expect, test } from "bun:test";
import { createHmac, randomBytes } from "node:crypto";
import { checkHostKey, knownHostName, matchesHost, parseKnownHosts } from "../../src/services/known-hosts";

const keyA = randomBytes(51);
const keyB = randomBytes(51);
const b64 = (key: Buffer) => key.toString("base64");
const hashed = (name: string) => {
  const salt = randomBytes(20);
  return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
};

describe("known_hosts", () => {
  test("plain, [host]:port, hashed and wildcard names trust exactly the listed key", () => {
    const entries = parseKnownHosts(
      [
        "# comment",
        "",
        `docker.example.com,10.0.0.5 ssh-ed25519 ${b64(keyA)} ops@laptop`,
        `[127.0.0.1]:2222 ssh-ed25519 ${b64(keyB)}`,
        `${hashed("[hidden.example.com]:2200")} ssh-ed25519 ${b64(keyA)}`,
        `*.build.example.com,!evil.build.example.com ssh-ed25519 ${b64(keyB)}`,
        "malformed line",
        `@cert-authority *.example.com ssh-ed25519 ${b64(keyB)}`,
      ].join("\n"),
    );
    expect(entries.length).toBe(4);
    expect(checkHostKey(entries, "docker.example.com", 22, keyA)).toBe("trusted");
    expect(checkHostKey(entries, "DOCKER.example.com", 22, keyA)).toBe("trusted");
    expect(checkHostKey(entries, "10.0.0.5", 22, keyA)).toBe("trusted");
    // Another key for a listed host, the listed key on another port, an unlisted host: refused.
    expect(checkHostKey(entries, "docker.example.com", 22, keyB)).toBe("unknown");
    expect(checkHostKey(entries, "docker.example.com", 2222, keyA)).toBe("unknown");
    expect(checkHostKey(entries, "127.0.0.1", 2222, keyB)).toBe("trusted");
    expect(checkHostKey(entries, "127.0.0.1", 22, keyB)).toBe("unknown");
    expect(checkHostKey(entries, "hidden.example.com", 2200, keyA)).toBe("trusted");
    expect(checkHostKey(entries, "hidden.example.com", 22, keyA)).toBe("unknown");
    expect(checkHostKey(entries, "a.build.example.com", 22, keyB)).toBe("trusted");
    expect(checkHostKey(entries, "evil.build.example.com", 22, keyB)).toBe("unknown");
    // A @cert-authority line is not a host key: example.com hosts are not trusted through it.
    expect(checkHostKey(entries, "other.example.com", 22, keyB)).toBe("unknown");
  });

  test("a @revoked key is refused even where another line lists it", () => {
    const entries = parseKnownHosts(`docker.example.com ssh-ed25519 ${b64(keyA)}\n@revoked * ssh-ed25519 ${b64(keyA)}\n`);
    expect(checkHostKey(entries, "docker.example.com", 22, keyA)).toBe("revoked");
  });

  test("names and patterns", () => {
    expect(knownHostName("h", 22)).toBe("h");
    expect(knownHostName("::1", 2222)).toBe("[::1]:2222");
    expect(matchesHost(["[127.0.0.1]:2222"], "[127.0.0.1]:2222")).toBe(true);
    expect(matchesHost(["127.0.0.?"], "127.0.0.1")).toBe(true);
    expect(matchesHost(["127.0.0.?"], "127.0.0.10")).toBe(false);
    expect(matchesHost(["a.b"], "axb")).toBe(false);
  });
});
