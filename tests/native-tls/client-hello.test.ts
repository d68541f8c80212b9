import { describe, expect, test } from "bun:test";
import { MAX_CLIENT_HELLO_BYTES, MAX_PEEK_BYTES, parseClientHello } from "../../native-tls/tls/client-hello";
import { alpnExtension, ascii, clientHello, clientHelloMessage, concat, records, u16 } from "./hello-builder";

const MODERN = { serverName: "app.example.com", alpn: ["h2", "http/1.1"], supportedVersions: [0x0304, 0x0303] };

describe("parseClientHello: what a gateway routes on", () => {
  test("SNI, ALPN, versions and where the records end", () => {
    const bytes = clientHello(MODERN);
    expect(parseClientHello(concat(bytes, Uint8Array.of(0x17, 3, 3, 0, 1, 0)))).toEqual({
      kind: "hello",
      serverName: "app.example.com",
      legacyVersion: 0x0303,
      alpn: ["h2", "http/1.1"],
      supportedVersions: [0x0304, 0x0303],
      extensionTypes: [0, 16, 43],
      recordBytes: bytes.length,
    });
  });

  test("no SNI: serverName is absent", () => {
    const result = parseClientHello(clientHello({ alpn: ["http/1.1"] }));
    expect(result.kind).toBe("hello");
    expect("serverName" in result).toBe(false);
  });

  test("a TLS 1.2-style hello without extensions", () => {
    expect(parseClientHello(clientHello({ noExtensions: true, legacyVersion: 0x0301 }))).toMatchObject({
      kind: "hello",
      legacyVersion: 0x0301,
      alpn: [],
      supportedVersions: [],
      extensionTypes: [],
    });
  });

  test("SNI is lowercased and loses one trailing dot", () => {
    expect(parseClientHello(clientHello({ serverName: "API.Example.COM" }))).toMatchObject({ serverName: "api.example.com" });
    expect(parseClientHello(clientHello({ serverName: "a.example." }))).toMatchObject({ serverName: "a.example" });
    expect(parseClientHello(clientHello({ serverName: "_acme-challenge.x-1.example" }))).toMatchObject({ serverName: "_acme-challenge.x-1.example" });
    const longest = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}`;
    expect(longest.length).toBe(255);
    expect(parseClientHello(clientHello({ serverName: longest }))).toMatchObject({ serverName: longest });
  });

  test("unknown name types are skipped, the host_name kept", () => {
    const ext = Uint8Array.from([...u16(3 + 2 + 3 + 1), 7, ...u16(2), 1, 2, 0, ...u16(1), ...ascii("x")]);
    expect(parseClientHello(clientHello({ rawServerNameExtension: ext }))).toMatchObject({ serverName: "x" });
  });

  test("GREASE extensions and versions pass through", () => {
    const result = parseClientHello(clientHello({ ...MODERN, supportedVersions: [0x2a2a, 0x0304], extensions: [[0x0a0a, new Uint8Array(0)], [0xfafa, Uint8Array.of(0)]] }));
    expect(result).toMatchObject({ supportedVersions: [0x2a2a, 0x0304], extensionTypes: [0, 16, 43, 0x0a0a, 0xfafa] });
  });
});

describe("parseClientHello: split input", () => {
  test("every strict prefix is incomplete (a hello arriving over several reads)", () => {
    const bytes = clientHello(MODERN, [7, 30]);
    for (let n = 0; n < bytes.length; n++) expect(parseClientHello(bytes.subarray(0, n))).toEqual({ kind: "incomplete" });
  });

  test("a hello fragmented across records parses as if whole", () => {
    const whole = parseClientHello(clientHello(MODERN));
    for (const sizes of [[1], [2], [3], [4], [10], [40, 1], [1, 1, 1, 1, 1]]) {
      const bytes = clientHello(MODERN, sizes);
      expect(parseClientHello(bytes)).toEqual({ ...whole, recordBytes: bytes.length } as typeof whole);
    }
  });

  test("the largest hello (16 KiB body) needs two records and fits the peek limit", () => {
    const padding = new Uint8Array(MAX_CLIENT_HELLO_BYTES - clientHelloMessage(MODERN).length + 4 - 4);
    const message = clientHelloMessage({ ...MODERN, extensions: [[21, padding]] });
    expect(message.length).toBe(MAX_CLIENT_HELLO_BYTES + 4);
    const bytes = records(message, [16384]);
    expect(bytes.length).toBeLessThanOrEqual(MAX_PEEK_BYTES);
    expect(parseClientHello(bytes)).toMatchObject({ kind: "hello", serverName: "app.example.com", recordBytes: bytes.length });
  });
});

describe("parseClientHello: refusals", () => {
  const hello = clientHello(MODERN);
  const cases: [string, Uint8Array, string][] = [
    ["plain HTTP", new TextEncoder().encode("GET / HTTP/1.1\r\n"), "not_tls"],
    ["SSLv2-style hello", Uint8Array.of(0x80, 0x2e, 0x01, 0x03, 0x01), "not_tls"],
    ["record version 2.0", Uint8Array.of(22, 2, 0, 0, 5), "not_tls"],
    ["record version 3.5", Uint8Array.of(22, 3, 5), "not_tls"],
    ["application data first", Uint8Array.of(23, 3, 3, 0, 1, 0), "not_handshake"],
    ["an alert first", Uint8Array.of(21, 3, 3, 0, 2, 2, 40), "not_handshake"],
    ["a ServerHello", Uint8Array.of(22, 3, 3, 0, 4, 2, 0, 0, 0), "not_client_hello"],
    ["an empty handshake record", Uint8Array.of(22, 3, 1, 0, 0), "bad_record"],
    ["a record over 2^14", Uint8Array.of(22, 3, 1, 0x40, 0x01), "bad_record"],
    ["a handshake message over the limit", Uint8Array.of(22, 3, 1, 0, 4, 1, 0, 0x40, 0x01), "too_large"],
    ["an alert inside a fragmented hello", concat(records(clientHelloMessage(MODERN), [10]).subarray(0, 15), Uint8Array.of(21, 3, 3, 0, 2, 2, 40)), "bad_record"],
    ["more data after the hello in its record", concat(Uint8Array.of(22, 3, 1, ...u16(hello.length - 5 + 1)), hello.subarray(5), Uint8Array.of(0)), "bad_record"],
    ["hello fragments of 1 byte run past the peek limit", records(clientHelloMessage({ ...MODERN, extensions: [[21, new Uint8Array(4000)]] }), new Array(4100).fill(1)), "too_large"],
    ["session id over 32 bytes", clientHello({ ...MODERN, sessionId: new Uint8Array(33) }), "malformed_hello"],
    ["an empty body", records(Uint8Array.of(1, 0, 0, 0)), "malformed_hello"],
  ];
  for (const [name, bytes, code] of cases) {
    test(`${name} → ${code}`, () => {
      const result = parseClientHello(bytes);
      expect(result).toMatchObject({ kind: "error", code });
      expect(result.kind === "error" && result.message.length).toBeGreaterThan(0);
    });
  }

  /** A hello whose ClientHello body (legacy_version onwards) went through `edit`. */
  const withBody = (edit: (body: number[]) => number[]): Uint8Array => {
    const message = [...clientHelloMessage(MODERN)];
    const body = edit(message.slice(4));
    return records(Uint8Array.from([1, 0, ...u16(body.length), ...body]));
  };
  const SUITES_AT = 2 + 32 + 1 + 32;
  const bodyCases: [string, (b: number[]) => number[], string][] = [
    ["odd cipher-suite length", (b) => b.toSpliced(SUITES_AT, 2, 0, 3), "malformed_hello"],
    ["no compression methods", (b) => b.toSpliced(SUITES_AT + 6, 2, 0), "malformed_hello"],
    ["cut inside the cipher suites", (b) => b.slice(0, SUITES_AT + 3), "malformed_hello"],
    ["a stray byte after compression", (b) => b.slice(0, SUITES_AT + 2 + 4 + 2 + 1), "malformed_hello"],
    ["extensions length too long", (b) => b.toSpliced(SUITES_AT + 8, 2, ...u16(((b[SUITES_AT + 8]! << 8) | b[SUITES_AT + 9]!) + 1)), "malformed_hello"],
    ["extensions cut in an extension header", (b) => [...b, 0, 0].toSpliced(SUITES_AT + 8, 2, ...u16(((b[SUITES_AT + 8]! << 8) | b[SUITES_AT + 9]!) + 2)), "malformed_extension"],
    ["last extension longer than the block", (b) => b.toSpliced(b.length - 7, 1, 9), "malformed_extension"],
  ];
  for (const [name, edit, code] of bodyCases) {
    test(`${name} → ${code}`, () => expect(parseClientHello(withBody(edit))).toMatchObject({ kind: "error", code }));
  }

  test("duplicate extensions → malformed_extension", () => {
    expect(parseClientHello(clientHello({ ...MODERN, extensions: [[16, alpnExtension(["h2"])]] }))).toMatchObject({ code: "malformed_extension" });
  });

  const alpnCases: [string, Uint8Array][] = [
    ["empty list", Uint8Array.of(0, 0)],
    ["list length mismatch", Uint8Array.of(0, 5, 2, 0x68, 0x32)],
    ["zero-length protocol id", Uint8Array.of(0, 1, 0)],
    ["protocol id past the list", Uint8Array.of(0, 3, 5, 0x68, 0x32)],
    ["no list length", Uint8Array.of(0)],
  ];
  for (const [name, data] of alpnCases) {
    test(`ALPN: ${name} → malformed_extension`, () => {
      expect(parseClientHello(clientHello({ serverName: "x", extensions: [[16, data]] }))).toMatchObject({ code: "malformed_extension" });
    });
  }
  test("supported_versions: bad lengths → malformed_extension", () => {
    for (const data of [Uint8Array.of(3, 3, 4, 3), Uint8Array.of(0), Uint8Array.of(4, 3, 4), new Uint8Array(0)]) {
      expect(parseClientHello(clientHello({ extensions: [[43, data]] }))).toMatchObject({ code: "malformed_extension" });
    }
  });

  const sniListCases: [string, Uint8Array][] = [
    ["empty extension", new Uint8Array(0)],
    ["empty list", Uint8Array.of(0, 0)],
    ["list length mismatch", Uint8Array.of(0, 9, 0, 0, 1, 0x78)],
    ["truncated entry", Uint8Array.of(0, 2, 0, 0)],
    ["zero-length host_name", Uint8Array.of(0, 3, 0, 0, 0)],
    ["name past the list", Uint8Array.of(0, 4, 0, 0, 5, 0x78)],
    ["two host_names", Uint8Array.of(0, 8, 0, 0, 1, 0x78, 0, 0, 1, 0x79)],
  ];
  for (const [name, data] of sniListCases) {
    test(`server_name: ${name} → malformed_extension`, () => {
      expect(parseClientHello(clientHello({ rawServerNameExtension: data }))).toMatchObject({ code: "malformed_extension" });
    });
  }

  const badNames: [string, string | Uint8Array][] = [
    ["non-ASCII (UTF-8)", Uint8Array.from(new TextEncoder().encode("bücher.example"))],
    ["a space", "a b.example"],
    ["a slash", "a/b"],
    ["a NUL", "a\0.example"],
    ["a percent sign", "a%2e.example"],
    ["an empty label", "a..example"],
    ["a leading dot", ".example"],
    ["only a dot", "."],
    ["two trailing dots", "example.."],
    ["256 bytes", "a".repeat(256)],
  ];
  for (const [name, host] of badNames) {
    test(`host_name with ${name} → bad_server_name`, () => {
      const bytes = typeof host === "string" ? Uint8Array.from(ascii(host)) : host;
      const ext = Uint8Array.from([...u16(bytes.length + 3), 0, ...u16(bytes.length), ...bytes]);
      expect(parseClientHello(clientHello({ rawServerNameExtension: ext }))).toMatchObject({ kind: "error", code: "bad_server_name" });
    });
  }
});
