/**
 * TRUSTED_PROXY_CIDRS: which TCP peers may extend X-Forwarded-* instead of
 * having them replaced.
 *
 * Every address is held as 128 bits (four 32-bit words); IPv4 is stored as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) so "10.0.0.0/8" also matches the
 * "::ffff:10.1.2.3" that a dual-stack listener reports, and vice versa.
 */

export interface CidrList {
  /** True if `ip` (IPv4, IPv6, or IPv4-mapped IPv6; a %zone is ignored) is in any range. */
  contains(ip: string): boolean;
  /** The ranges as given, normalised (for logs and `config show`). */
  readonly ranges: readonly string[];
}

type Words = [number, number, number, number];

interface Range {
  readonly words: Words;
  readonly prefix: number; // 0..128
}

export function parseCidrList(text: string): { ok: true; list: CidrList } | { ok: false; error: string } {
  const ranges: Range[] = [];
  const shown: string[] = [];
  for (const item of text.split(/[\s,]+/)) {
    if (item === "") continue;
    const slash = item.indexOf("/");
    const address = slash < 0 ? item : item.slice(0, slash);
    const parsed = parseIp(address);
    if (!parsed) return { ok: false, error: `${JSON.stringify(item)} is not an IPv4 or IPv6 address or CIDR range` };
    const width = parsed.dotted ? 32 : 128;
    let bits = width;
    if (slash >= 0) {
      const raw = item.slice(slash + 1);
      bits = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
      if (!(bits <= width)) return { ok: false, error: `${JSON.stringify(item)}: the prefix length must be 0 to ${width}` };
    }
    const prefix = parsed.dotted ? 96 + bits : bits;
    ranges.push({ words: mask(parsed.words, prefix), prefix });
    shown.push(`${address}/${bits}`);
  }
  return { ok: true, list: cidrList(ranges, shown) };
}

function cidrList(ranges: readonly Range[], shown: readonly string[]): CidrList {
  return Object.freeze({
    ranges: Object.freeze([...shown]),
    contains(ip: string): boolean {
      if (ranges.length === 0) return false;
      const parsed = parseIp(ip);
      if (!parsed) return false;
      for (const range of ranges) if (inRange(parsed.words, range)) return true;
      return false;
    },
  });
}

function inRange(words: Words, range: Range): boolean {
  const masked = mask(words, range.prefix);
  return masked[0] === range.words[0] && masked[1] === range.words[1] && masked[2] === range.words[2] && masked[3] === range.words[3];
}

function mask(words: Words, prefix: number): Words {
  const out: Words = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const keep = Math.max(0, Math.min(32, prefix - i * 32));
    out[i] = keep === 0 ? 0 : keep === 32 ? words[i]! : (words[i]! & (~0 << (32 - keep))) >>> 0;
  }
  return out;
}

/** Parses an address to 128 bits; `dotted` is true when it was written as plain IPv4. */
export function parseIp(text: string): { words: Words; dotted: boolean } | undefined {
  if (text.includes(":")) {
    const words = parseIpv6(text);
    return words && { words, dotted: false };
  }
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : { words: [0, 0, 0xffff, v4], dotted: true };
}

const IPV4_PART = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    // Leading zeros are refused: "010" is octal to some parsers and decimal to others.
    if (!IPV4_PART.test(part)) return undefined;
    value = value * 256 + Number(part);
  }
  return value >>> 0;
}

function parseIpv6(input: string): Words | undefined {
  let text = input.startsWith("[") && input.endsWith("]") ? input.slice(1, -1) : input;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const groups: number[] = [];
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parseHalf = (half: string, allowV4Tail: boolean): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (allowV4Tail && i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIpv4(piece);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = parseHalf(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parseHalf(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) {
    if (head.length !== 8) return undefined;
    groups.push(...head);
  } else {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups.push(...head, ...new Array<number>(missing).fill(0), ...tail);
  }
  const words: Words = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) words[i] = ((groups[i * 2]! << 16) | groups[i * 2 + 1]!) >>> 0;
  return words;
}
