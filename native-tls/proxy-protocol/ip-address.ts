/**
 * IP address text for the PROXY protocol: the strict v1 forms in, canonical
 * forms out (dotted quads; RFC 5952 for IPv6, so one address has one spelling
 * in logs, X-Forwarded-For and allowlists whichever proxy sent it).
 *
 * The scanners also answer "could this still become an address?" for a token
 * cut short by the end of a TCP read, so a v1 line can be refused before its
 * CRLF arrives without ever refusing a valid header early.
 */

/** A prefix of a possibly valid address (only when asked with `partial`). */
export const PREFIX = "prefix";

const DOT = 0x2e;
const ZERO = 0x30;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= 0x39) return c - ZERO;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Exactly four decimal numbers 0-255 joined by single dots. Leading zeros are
 * refused ("010" is 8 to inet_aton and 10 to most humans; the spec forbids them).
 */
export function scanIpv4(text: string, partial: boolean): Uint8Array | typeof PREFIX | undefined {
  const out = new Uint8Array(4);
  let group = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      if (digits === 1 && value === 0) return undefined;
      value = value * 10 + (c - ZERO);
      digits++;
      if (value > 255) return undefined;
    } else if (c === DOT) {
      if (digits === 0 || group === 3) return undefined;
      out[group++] = value;
      value = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  if (partial) return PREFIX;
  if (group !== 3 || digits === 0) return undefined;
  out[3] = value;
  return out;
}

function isHexGroup(part: string): boolean {
  if (part.length === 0 || part.length > 4) return false;
  for (let i = 0; i < part.length; i++) if (hexValue(part.charCodeAt(i)) < 0) return false;
  return true;
}

function hexGroupValue(part: string): number {
  let value = 0;
  for (let i = 0; i < part.length; i++) value = (value << 4) | hexValue(part.charCodeAt(i));
  return value;
}

/** "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */
const MAX_IPV6_TEXT = 45;

/**
 * IPv6 as inet_pton reads it: 1-4 hex digits per group (either case), at most
 * one "::", and an optional dotted-quad tail (what inet_ntop prints for
 * IPv4-mapped addresses, so real senders emit it).
 */
export function scanIpv6(text: string, partial: boolean): Uint8Array | typeof PREFIX | undefined {
  if (text.length > MAX_IPV6_TEXT) return undefined;
  if (partial && text === ":") return PREFIX;
  const gapAt = text.indexOf("::");
  // A second "::" (which also catches ":::") can never be valid.
  if (gapAt >= 0 && text.indexOf("::", gapAt + 1) >= 0) return undefined;
  const headText = gapAt < 0 ? text : text.slice(0, gapAt);
  const tailText = gapAt < 0 ? "" : text.slice(gapAt + 2);
  const head = headText === "" ? [] : headText.split(":");
  const tail = tailText === "" ? [] : tailText.split(":");
  const last = gapAt < 0 ? head : tail;
  const groupLimit = gapAt < 0 ? 8 : 7;

  const words: number[] = [];
  let gapWord = -1;
  let dotted: Uint8Array | undefined;
  let groups = 0;
  for (const [list, isTail] of [[head, false], [tail, true]] as const) {
    if (isTail) gapWord = words.length;
    for (let i = 0; i < list.length; i++) {
      const part = list[i]!;
      const isFinal = list === last && i === list.length - 1;
      if (isHexGroup(part)) {
        words.push(hexGroupValue(part));
        groups += 1;
        continue;
      }
      if (!isFinal) return undefined;
      if (partial && part === "") {
        groups += 1; // a group must still follow the trailing ':'
        continue;
      }
      const quad = scanIpv4(part, partial);
      if (quad === undefined) return undefined;
      groups += 2;
      if (quad === PREFIX) {
        // Nothing may follow a dotted tail, so the count must already be right.
        if (gapAt < 0 ? groups !== 8 : groups > 7) return undefined;
        continue;
      }
      dotted = quad;
    }
  }
  if (groups > groupLimit) return undefined;
  if (partial) return PREFIX;
  if (gapAt < 0 && groups !== 8) return undefined;

  const out = new Uint8Array(16);
  const headCount = gapAt < 0 ? words.length : gapWord;
  for (let i = 0; i < headCount; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  const dottedBytes = dotted ? 4 : 0;
  const rest = words.slice(headCount);
  const restStart = 16 - dottedBytes - rest.length * 2;
  for (let i = 0; i < rest.length; i++) {
    out[restStart + i * 2] = rest[i]! >> 8;
    out[restStart + i * 2 + 1] = rest[i]! & 0xff;
  }
  if (dotted) out.set(dotted, 12);
  return out;
}

export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/**
 * RFC 5952: lowercase, no leading zeros, the longest run (the first on a tie)
 * of two or more zero groups as "::". IPv4-mapped addresses keep the mixed
 * "::ffff:a.b.c.d" form §5 recommends, which is also what Bun and Node report
 * as a dual-stack socket's remoteAddress.
 */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + i * 2]! << 8) | bytes[offset + i * 2 + 1]!);
  if (words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0 && words[4] === 0 && words[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && words[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (from: number, to: number): string => words.slice(from, to).map((w) => w.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

export function parseIpv4(text: string): Uint8Array | undefined {
  const result = scanIpv4(text, false);
  return result instanceof Uint8Array ? result : undefined;
}

export function parseIpv6(text: string): Uint8Array | undefined {
  const result = scanIpv6(text, false);
  return result instanceof Uint8Array ? result : undefined;
}
