/**
 * Fuzzes both parsers with 100,000+ inputs: valid seeds, their mutations,
 * splices, and random bytes. Every input goes through both parsers, which
 * must never throw, must answer fast, and must give results that agree with
 * themselves: a header or hello parses the same from exactly its own bytes,
 * every strict prefix of it is "incomplete", an error keeps its code whatever
 * follows, and a prefix of an "incomplete" input is "incomplete" too.
 *
 * FUZZ_SEED=n reproduces a run; FUZZ_INPUTS=n changes its size.
 */
import { describe, expect, test } from "bun:test";
import { isDeepStrictEqual } from "node:util";
import { parseProxyHeader, V1_MAX_BYTES, V2_DEFAULT_MAX_BYTES, type ProxyParseResult } from "../../native-tls/proxy-protocol";
import { MAX_PEEK_BYTES, parseClientHello, type ClientHelloResult } from "../../native-tls/tls/client-hello";
import { mutate, Random, randomInput, seedInput, type SeedKind } from "./fuzz-corpus";
import { concat } from "./hello-builder";

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));
const INPUTS = Number(process.env.FUZZ_INPUTS ?? 100_000);
/** A budget for all primary parser calls together; they take well under a second here. */
const TOTAL_BUDGET_MS = 10_000;
/** No input may take this long (best of five timings, so a pause of the machine is not mistaken for a slow input). */
const CALL_BUDGET_MS = 100;

const PROXY_CODES = new Set([
  "not_proxy_protocol", "v1_too_long", "v1_bad_format", "v1_bad_protocol", "v1_bad_address", "v1_bad_port",
  "v2_bad_version", "v2_bad_command", "v2_bad_family", "v2_length_too_large", "v2_truncated_addresses", "v2_bad_tlv", "v2_bad_checksum",
]);
const HELLO_CODES = new Set(["not_tls", "not_handshake", "bad_record", "not_client_hello", "too_large", "malformed_hello", "malformed_extension", "bad_server_name"]);
const FAMILIES = new Set(["tcp4", "tcp6", "udp4", "udp6", "unix", "unix_dgram", "unknown"]);
const HOST = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/** Why `result` is not a well-formed answer for `input`, or undefined. */
function checkProxyShape(input: Uint8Array, result: ProxyParseResult): string | undefined {
  switch (result.kind) {
    case "incomplete":
      if (input.length >= (input[0] === 0x50 ? V1_MAX_BYTES : V2_DEFAULT_MAX_BYTES)) return "incomplete past the size limit";
      return undefined;
    case "error":
      return PROXY_CODES.has(result.code) && result.message.length > 0 ? undefined : "unknown error code or empty message";
    case "header": {
      const { header, consumed } = result;
      if (!Number.isInteger(consumed) || consumed < 1 || consumed > input.length) return `consumed ${consumed} of ${input.length}`;
      if (consumed > (header.version === 1 ? V1_MAX_BYTES : V2_DEFAULT_MAX_BYTES)) return "header larger than its limit";
      if (!FAMILIES.has(header.family) || !Array.isArray(header.tlvs)) return "bad family or tlvs";
      for (const address of [header.source, header.destination]) {
        if (address && (typeof address.address !== "string" || !Number.isInteger(address.port) || address.port < 0 || address.port > 65535)) return "bad address";
      }
      if ((header.source === undefined) !== (header.family === "unknown")) return "addresses do not match the family";
      return undefined;
    }
  }
}

function checkHelloShape(input: Uint8Array, result: ClientHelloResult): string | undefined {
  switch (result.kind) {
    case "incomplete":
      return input.length >= MAX_PEEK_BYTES ? "incomplete past the peek limit" : undefined;
    case "error":
      return HELLO_CODES.has(result.code) && result.message.length > 0 ? undefined : "unknown error code or empty message";
    case "hello":
      if (!Number.isInteger(result.recordBytes) || result.recordBytes < 9 || result.recordBytes > Math.min(input.length, MAX_PEEK_BYTES)) return `recordBytes ${result.recordBytes}`;
      if (result.serverName !== undefined && (result.serverName.length > 255 || !HOST.test(result.serverName))) return `server name ${JSON.stringify(result.serverName)}`;
      if (result.alpn.some((id) => id.length === 0)) return "empty ALPN id";
      if (result.supportedVersions.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffff)) return "bad version";
      return undefined;
  }
}

/**
 * The self-consistency rules, for either parser. `end` is how many bytes a
 * success covers (consumed or recordBytes).
 */
function checkPrefixes<R extends { kind: string }>(r: Random, input: Uint8Array, result: R, parse: (b: Uint8Array) => R, end: (res: R) => number | undefined): string | undefined {
  const covered = end(result);
  if (covered !== undefined) {
    if (!isDeepStrictEqual(parse(input.subarray(0, covered)), result)) return "differs when given exactly its own bytes";
    if (parse(input.subarray(0, covered - 1)).kind !== "incomplete") return "the prefix one byte short is not incomplete";
    if (parse(input.subarray(0, r.int(covered))).kind !== "incomplete") return "a strict prefix is not incomplete";
  } else if (result.kind === "error") {
    // The same code, not the same message: messages quote the offending field, which may grow.
    const extended = parse(concat(input, r.bytes(1 + r.int(64))));
    if (extended.kind !== "error" || errorCode(extended) !== errorCode(result)) return `an error changed when more bytes followed: ${JSON.stringify(extended)}`;
  } else if (input.length > 0 && parse(input.subarray(0, r.int(input.length))).kind !== "incomplete") {
    return "a prefix of an incomplete input is not incomplete";
  }
  return undefined;
}

const errorCode = (result: { kind: string }): string | undefined => ("code" in result ? String(result.code) : undefined);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe(`fuzz (seed ${SEED}, reproduce with FUZZ_SEED=${SEED})`, () => {
  test(`${INPUTS} inputs through both parsers`, () => {
    const r = new Random(SEED);
    const kinds: SeedKind[] = ["v1", "v2", "hello"];
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    let parseMs = 0;
    let slowest = 0;
    let slowestInput: Uint8Array = new Uint8Array();
    for (let i = 0; i < INPUTS && failures.length < 5; i++) {
      const kind = r.pick(kinds);
      const roll = r.int(20);
      let input: Uint8Array;
      if (roll === 0) input = randomInput(r);
      else if (roll < 4) input = seedInput(r, kind);
      else if (roll < 6) input = concat(seedInput(r, r.pick(["v1", "v2"])), seedInput(r, "hello")); // PROXY then TLS, as on the wire
      else input = mutate(r, seedInput(r, kind), seedInput(r, r.pick(kinds)));

      let proxy: ProxyParseResult;
      let hello: ClientHelloResult;
      const started = performance.now();
      try {
        proxy = parseProxyHeader(input);
        hello = parseClientHello(input);
      } catch (error) {
        failures.push(`input ${i} threw ${String(error)}: ${hex(input)}`);
        continue;
      }
      const took = performance.now() - started;
      parseMs += took;
      if (took > slowest) {
        slowest = took;
        slowestInput = input;
      }
      outcomes.set(`proxy:${proxy.kind === "error" ? proxy.code : proxy.kind}`, (outcomes.get(`proxy:${proxy.kind === "error" ? proxy.code : proxy.kind}`) ?? 0) + 1);
      outcomes.set(`hello:${hello.kind === "error" ? hello.code : hello.kind}`, (outcomes.get(`hello:${hello.kind === "error" ? hello.code : hello.kind}`) ?? 0) + 1);

      const problem =
        checkProxyShape(input, proxy) ??
        checkHelloShape(input, hello) ??
        checkPrefixes(r, input, proxy, parseProxyHeader, (p) => (p.kind === "header" ? p.consumed : undefined)) ??
        checkPrefixes(r, input, hello, parseClientHello, (h) => (h.kind === "hello" ? h.recordBytes : undefined));
      if (problem) failures.push(`input ${i}: ${problem}: ${hex(input)}`);
    }
    if (failures.length > 0) console.error(`fuzz failures with FUZZ_SEED=${SEED}:\n${failures.join("\n")}`);
    expect(failures).toEqual([]);
    expect(parseMs).toBeLessThan(TOTAL_BUDGET_MS);
    // An input the parsers choke on is slow every time; a GC pause or a busy machine is not. Timed again, best of 5.
    const again = Array.from({ length: 5 }, () => {
      const started = performance.now();
      parseProxyHeader(slowestInput);
      parseClientHello(slowestInput);
      return performance.now() - started;
    });
    expect(Math.min(...again)).toBeLessThan(CALL_BUDGET_MS);
    // The corpus must reach the interesting outcomes, or the fuzzing proves little.
    for (const outcome of ["proxy:header", "proxy:incomplete", "proxy:v1_bad_address", "proxy:v2_bad_tlv", "proxy:v2_bad_checksum", "hello:hello", "hello:incomplete", "hello:malformed_extension"]) {
      expect(outcomes.get(outcome) ?? 0).toBeGreaterThan(INPUTS / 2000);
    }
    if (process.env.FUZZ_VERBOSE) console.log(`fuzz seed ${SEED}: ${INPUTS} inputs, parsing ${parseMs.toFixed(0)} ms, slowest call ${slowest.toFixed(2)} ms`, Object.fromEntries([...outcomes].sort()));
    // Seconds on an idle machine; a CI machine shared with other work may take several times that.
  }, 120_000);
});

describe("incremental feeding (one byte per read, then random read sizes)", () => {
  test("incomplete until the last byte, then the same result as all at once", () => {
    const r = new Random(SEED ^ 0x5eed);
    const failures: string[] = [];
    for (let i = 0; i < 300; i++) {
      const kind = r.pick<SeedKind>(["v1", "v2", "hello"]);
      const whole = concat(seedInput(r, kind), r.bytes(r.int(20)));
      const parse = kind === "hello" ? parseClientHello : parseProxyHeader;
      const atOnce = parse(whole);
      const end = atOnce.kind === "header" ? atOnce.consumed : atOnce.kind === "hello" ? atOnce.recordBytes : -1;
      if (end < 0) {
        failures.push(`seed ${i} (${kind}) did not parse: ${JSON.stringify(atOnce)}`);
        continue;
      }
      // A connection's reads: one byte at a time, or random chunks.
      const chunked = r.int(2) === 0;
      let buffer: Uint8Array = new Uint8Array(0);
      let at = 0;
      while (at < whole.length) {
        const size = chunked ? 1 + r.int(64) : 1;
        buffer = concat(buffer, whole.subarray(at, at + size));
        at += size;
        const result = parse(buffer);
        if (buffer.length < end) {
          if (result.kind !== "incomplete") failures.push(`seed ${i} (${kind}): ${result.kind} after ${buffer.length} of ${end} bytes`);
        } else {
          if (!isDeepStrictEqual(result, atOnce)) failures.push(`seed ${i} (${kind}): fed result differs from the whole`);
          break;
        }
      }
    }
    if (failures.length > 0) console.error(`incremental failures with FUZZ_SEED=${SEED}:\n${failures.slice(0, 5).join("\n")}`);
    expect(failures).toEqual([]);
  });
});
