/**
 * OpenSSH known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"), for pinning the
 * Docker host's key when DOCKER_HOST is ssh://: the SSH library connects to
 * any host key unless told which to trust, and whoever answers in its place
 * would receive every container's settings and could run anything on the
 * gateway's behalf. Pure: text in, a decision out.
 *
 * Supported: plain and hashed (`|1|salt|hash`) host names, `[host]:port` for
 * ports other than 22, the `*` and `?` wildcards, `!` negation, `@revoked`
 * lines. `@cert-authority` lines are skipped (host certificates are not
 * checked; list the host key itself).
 */
import { createHmac } from "node:crypto";

export interface KnownHostEntry {
  readonly marker: "revoked" | null;
  readonly patterns: readonly string[];
  readonly keyType: string;
  readonly key: Buffer;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"] = null;
    if (fields[0]!.startsWith("@")) {
      const given = fields.shift()!;
      if (given !== "@revoked") continue; // @cert-authority and unknown markers: not a key of the host
      marker = "revoked";
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) continue;
    entries.push({ marker, patterns: hosts.split(","), keyType, key: Buffer.from(keyBase64, "base64") });
  }
  return entries;
}

/** How known_hosts names a host: the bare name on port 22, `[name]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * "trusted" when a non-revoked entry for the host lists exactly this key;
 * "revoked" when the key is marked @revoked; "unknown" otherwise (not listed,
 * or listed with another key: refused either way).
 */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, key: Buffer): "trusted" | "revoked" | "unknown" {
  const name = knownHostName(host, port);
  let trusted = false;
  for (const entry of entries) {
    if (!entry.key.equals(key)) continue;
    if (entry.marker === "revoked") return "revoked";
    if (matchesHost(entry.patterns, name)) trusted = true;
  }
  return trusted ? "trusted" : "unknown";
}

/** A host matches when some pattern matches it and no negated (`!`) pattern does. */
export function matchesHost(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith("!")) {
      if (matchesOne(pattern.slice(1), name)) return false;
    } else if (matchesOne(pattern, name)) matched = true;
  }
  return matched;
}

function matchesOne(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  const glob = new RegExp(`^${pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return glob.test(name.toLowerCase());
}
