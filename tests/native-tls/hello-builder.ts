/**
 * Builds ClientHello bytes field by field for hand-crafted and fuzz cases. Any
 * field can be overridden with raw bytes so a test can make exactly one thing
 * wrong.
 */

export interface HelloSpec {
  readonly serverName?: string;
  /** Replaces the whole server_name extension data. */
  readonly rawServerNameExtension?: Uint8Array;
  readonly alpn?: readonly string[];
  readonly supportedVersions?: readonly number[];
  readonly legacyVersion?: number;
  readonly sessionId?: Uint8Array;
  /** More extensions, after the ones above. */
  readonly extensions?: readonly (readonly [number, Uint8Array])[];
  /** Leave the extensions block out entirely (a TLS 1.2-style hello). */
  readonly noExtensions?: boolean;
}

export function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

export function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

export function serverNameExtension(name: string): Uint8Array {
  const host = ascii(name);
  return Uint8Array.from([...u16(host.length + 3), 0, ...u16(host.length), ...host]);
}

export function alpnExtension(ids: readonly string[]): Uint8Array {
  const list = ids.flatMap((id) => [id.length, ...ascii(id)]);
  return Uint8Array.from([...u16(list.length), ...list]);
}

/** The handshake message: type 1, 3-byte length, ClientHello body. */
export function clientHelloMessage(spec: HelloSpec = {}): Uint8Array {
  const extensions: (readonly [number, Uint8Array])[] = [];
  if (spec.rawServerNameExtension) extensions.push([0, spec.rawServerNameExtension]);
  else if (spec.serverName !== undefined) extensions.push([0, serverNameExtension(spec.serverName)]);
  if (spec.alpn) extensions.push([16, alpnExtension(spec.alpn)]);
  if (spec.supportedVersions) {
    const versions = spec.supportedVersions.flatMap(u16);
    extensions.push([43, Uint8Array.from([versions.length, ...versions])]);
  }
  extensions.push(...(spec.extensions ?? []));
  const sessionId = spec.sessionId ?? new Uint8Array(32).fill(7);
  const body = [
    ...u16(spec.legacyVersion ?? 0x0303),
    ...new Array(32).fill(0x42),
    sessionId.length,
    ...sessionId,
    ...u16(4),
    0x13, 0x01, 0x13, 0x02,
    1, 0,
  ];
  if (!spec.noExtensions) {
    const block = extensions.flatMap(([type, data]) => [...u16(type), ...u16(data.length), ...data]);
    body.push(...u16(block.length), ...block);
  }
  return Uint8Array.from([1, (body.length >> 16) & 0xff, (body.length >> 8) & 0xff, body.length & 0xff, ...body]);
}

/** Wraps a handshake message in handshake records, split at the given fragment sizes (the rest in one last record). */
export function records(message: Uint8Array, fragmentSizes: readonly number[] = []): Uint8Array {
  const out: number[] = [];
  let at = 0;
  for (const size of [...fragmentSizes, message.length]) {
    if (at >= message.length) break;
    const fragment = message.subarray(at, Math.min(message.length, at + size));
    out.push(22, 3, 1, ...u16(fragment.length), ...fragment);
    at += fragment.length;
  }
  return Uint8Array.from(out);
}

export function clientHello(spec: HelloSpec = {}, fragmentSizes: readonly number[] = []): Uint8Array {
  return records(clientHelloMessage(spec), fragmentSizes);
}

export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
