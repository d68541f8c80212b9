/**
 * Seeded inputs for the fuzz test: valid PROXY v1/v2 headers and ClientHellos
 * (generated and captured), and the mutations applied to them. Everything
 * draws from one seeded PRNG so a failing run reproduces from its seed.
 */
import { encodeProxyHeaderV2, formatIpv6, type ProxyFamily, type ProxyTlv } from "../../native-tls/proxy-protocol";
import { BUN_CLIENT_HELLO_HEX, OPENSSL_CLIENT_HELLO_HEX } from "./fixtures/captured-hellos";
import { clientHello, clientHelloMessage, concat, hexBytes, records } from "./hello-builder";

/** mulberry32: small, fast, and good enough to drive mutations. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function ipv4(r: Random): string {
  return [0, 1, 2, 3].map(() => r.pick([0, 1, 9, 10, 99, 100, 199, 200, 255, r.int(256)])).join(".");
}

/** IPv6 text in the spellings senders use: canonical, full, uppercase, zero-padded, dotted tail. */
function ipv6(r: Random): string {
  const bytes = r.bytes(16);
  if (r.int(2) === 0) bytes.fill(0, r.int(8) * 2, r.int(9) * 2);
  if (r.int(5) === 0) bytes.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
  const words = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16));
  switch (r.int(5)) {
    case 0:
      return words.join(":").toUpperCase();
    case 1:
      return words.map((w) => w.padStart(4, "0")).join(":");
    case 2:
      return `${words.slice(0, 6).join(":")}:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
    default:
      return formatIpv6(bytes);
  }
}

function port(r: Random): number {
  return r.pick([0, 1, 80, 443, 65535, r.int(65536)]);
}

function v1Header(r: Random): Uint8Array {
  switch (r.int(4)) {
    case 0:
      return text(`PROXY TCP4 ${ipv4(r)} ${ipv4(r)} ${port(r)} ${port(r)}\r\n`);
    case 1: {
      const line = `PROXY TCP6 ${ipv6(r)} ${ipv6(r)} ${port(r)} ${port(r)}\r\n`;
      // Long spellings (zero-padded groups with a dotted tail) can pass 107 bytes; real senders use inet_ntop's.
      return text(line.length <= 107 ? line : "PROXY TCP6 ::1 ::1 1 2\r\n");
    }
    case 2:
      return text("PROXY UNKNOWN\r\n");
    default:
      // Whatever follows UNKNOWN is ignored; cut to the 107-byte limit.
      return text(`${`PROXY UNKNOWN ${ipv6(r)} ${ipv6(r)} ${port(r)} ${port(r)}`.slice(0, 105)}\r\n`);
  }
}

function v2Header(r: Random): Uint8Array {
  const family = r.pick<ProxyFamily>(["tcp4", "tcp6", "udp4", "udp6", "unix", "unix_dgram", "unknown"]);
  const address = (): string => (family.endsWith("4") ? ipv4(r) : family.endsWith("6") ? ipv6(r) : family === "unknown" ? "" : r.pick(["/run/a.sock", "@abstract", ""]));
  const tlvs: ProxyTlv[] = [];
  for (let n = r.int(3); n > 0; n--) tlvs.push({ type: r.pick([0x04, 0xe0, 0xea, 0xee, 0xf0, r.int(256) | 0x80]), value: r.bytes(r.int(40)) });
  return encodeProxyHeaderV2({
    command: r.int(8) === 0 ? "local" : "proxy",
    family,
    source: { address: address(), port: port(r) },
    destination: { address: address(), port: port(r) },
    ...(r.int(2) ? { alpn: r.pick(["h2", "http/1.1", "acme-tls/1"]) } : {}),
    ...(r.int(2) ? { authority: r.pick(["example.com", "bücher.example", "x"]) } : {}),
    ...(r.int(3) === 0 ? { uniqueId: r.bytes(r.int(129)) } : {}),
    ...(r.int(3) === 0 ? { ssl: { client: r.int(8), verify: r.int(2) ? 0 : r.int(100), version: "TLSv1.3", commonName: r.pick(["alice", "Jöhn"]), cipher: "TLS_AES_128_GCM_SHA256" } } : {}),
    ...(r.int(5) === 0 ? { netns: "blue" } : {}),
    tlvs,
    checksum: r.int(2) === 0,
  });
}

const CAPTURED = [hexBytes(OPENSSL_CLIENT_HELLO_HEX), hexBytes(BUN_CLIENT_HELLO_HEX)];

function helloRecords(r: Random): Uint8Array {
  if (r.int(3) === 0) {
    const captured = r.pick(CAPTURED);
    // Re-fragment a captured hello at random points sometimes.
    if (r.int(2) === 0) return captured;
    const message = captured.subarray(5);
    return records(message, [1 + r.int(message.length - 1)]);
  }
  const spec = {
    ...(r.int(4) ? { serverName: r.pick(["a.example.com", "API.Example.COM", "x", "host-1.internal."]) } : {}),
    ...(r.int(3) ? { alpn: r.pick([["h2", "http/1.1"], ["http/1.1"], ["acme-tls/1"]]) } : {}),
    ...(r.int(3) ? { supportedVersions: r.pick([[0x0304, 0x0303], [0x0a0a, 0x0304]]) } : {}),
    extensions: r.int(2) ? [[0x0a0a, new Uint8Array(0)] as const, [51, r.bytes(r.int(80))] as const] : [],
    ...(r.int(6) === 0 ? { noExtensions: true } : {}),
  };
  const message = clientHelloMessage(spec);
  if (r.int(4) === 0) return records(message, [1 + r.int(message.length - 1)]);
  return clientHello(spec);
}

export type SeedKind = "v1" | "v2" | "hello";

export function seedInput(r: Random, kind: SeedKind): Uint8Array {
  return kind === "v1" ? v1Header(r) : kind === "v2" ? v2Header(r) : helloRecords(r);
}

const INTERESTING = [0x00, 0x01, 0x0a, 0x0d, 0x20, 0x2e, 0x30, 0x3a, 0x50, 0x7f, 0x80, 0xff, 0x16, 0x03];

/** One to four random edits: bit flips, byte sets, truncations, insertions, deletions, length-field tweaks, splices. */
export function mutate(r: Random, input: Uint8Array, other: Uint8Array): Uint8Array {
  let out: Uint8Array = input.slice();
  for (let n = 1 + r.int(4); n > 0; n--) {
    const at = out.length === 0 ? 0 : r.int(out.length);
    switch (r.int(8)) {
      case 0:
        if (out.length) out[at]! ^= 1 << r.int(8);
        break;
      case 1:
        if (out.length) out[at] = r.pick(INTERESTING);
        break;
      case 2:
        out = out.slice(0, r.int(out.length + 1));
        break;
      case 3:
        out = concat(out.subarray(0, at), r.int(2) ? r.bytes(1 + r.int(8)) : Uint8Array.of(r.pick(INTERESTING)), out.subarray(at));
        break;
      case 4:
        out = concat(out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + r.int(16))));
        break;
      case 5: {
        // A big-endian length field: v2's at 14, a record's at 3, or any aligned pair (extension lengths).
        const field = r.pick([14, 3, 7, at & ~1]);
        if (field + 1 < out.length) {
          const value = (out[field]! << 8) | out[field + 1]!;
          const next = r.pick([0, 1, 0xffff, 0x4000, 0x4001, value + 1, value - 1, value + 16, r.int(0x10000)]) & 0xffff;
          out[field] = next >> 8;
          out[field + 1] = next & 0xff;
        }
        break;
      }
      case 6:
        out = concat(out.subarray(0, at), other.subarray(r.int(other.length + 1)));
        break;
      default: {
        const from = r.int(out.length + 1);
        out = concat(out.subarray(0, at), out.subarray(from, from + 1 + r.int(32)), out.subarray(at));
      }
    }
  }
  return out;
}

/** Random bytes, usually behind a first byte that gets past the parsers' first check. */
export function randomInput(r: Random): Uint8Array {
  const body = r.bytes(r.int(400));
  if (body.length && r.int(4)) body[0] = r.pick([0x50, 0x0d, 0x16]);
  return body;
}
