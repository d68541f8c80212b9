/**
 * Writes a tar archive (POSIX ustar, with a PAX header for names that do not
 * fit) — the build context the engine's build endpoint takes. Pure: entries in,
 * bytes out. Only what a build context holds: files, directories, symbolic
 * links (kept as links, never followed: the builder resolves them inside the
 * context, so a link cannot carry a file from outside it into an image).
 */

export type TarEntry =
  | { readonly type: "file"; readonly path: string; readonly mode: number; readonly mtime?: number; readonly data: Uint8Array }
  | { readonly type: "directory"; readonly path: string; readonly mode: number; readonly mtime?: number }
  | { readonly type: "symlink"; readonly path: string; readonly mtime?: number; readonly target: string };

const BLOCK = 512;
const encoder = new TextEncoder();

/** The two zero blocks that end an archive. */
export function tarEnd(): Uint8Array {
  return new Uint8Array(BLOCK * 2);
}

/** The blocks of one entry: (PAX header,) ustar header, data padded to a block. */
export function tarEntry(entry: TarEntry): Uint8Array[] {
  const name = entry.type === "directory" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
  const linkname = entry.type === "symlink" ? entry.target : "";
  const size = entry.type === "file" ? entry.data.length : 0;
  const out: Uint8Array[] = [];
  const pax: Record<string, string> = {};
  if (!fits(name, 100)) pax.path = name;
  if (!fits(linkname, 100)) pax.linkpath = linkname;
  if (Object.keys(pax).length > 0) {
    const body = encoder.encode(Object.entries(pax).map(([key, value]) => paxRecord(key, value)).join(""));
    out.push(header({ name: "PaxHeader", mode: 0o644, size: body.length, type: "x", linkname: "", mtime: 0 }), ...padded(body));
  }
  const mode = entry.type === "symlink" ? 0o777 : entry.mode & 0o7777;
  const type = entry.type === "file" ? "0" : entry.type === "directory" ? "5" : "2";
  out.push(header({ name: pax.path ? asciiPrefix(name, 100) : name, mode, size, type, linkname: pax.linkpath ? "" : linkname, mtime: Math.max(0, Math.floor(entry.mtime ?? 0)) }));
  if (entry.type === "file") out.push(...padded(entry.data));
  return out;
}

function fits(text: string, max: number): boolean {
  return /^[\x20-\x7e]*$/.test(text) && text.length <= max;
}

function asciiPrefix(text: string, max: number): string {
  return text.replace(/[^\x20-\x7e]/g, "_").slice(0, max);
}

/** "len key=value\n", len counting its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restBytes = encoder.encode(rest).length;
  let length = restBytes + String(restBytes).length;
  if (String(length).length !== String(restBytes).length) length = restBytes + String(length).length;
  return `${length}${rest}`;
}

function padded(data: Uint8Array): Uint8Array[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, new Uint8Array(BLOCK - rest)];
}

function header(fields: { name: string; mode: number; size: number; type: string; linkname: string; mtime: number }): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const put = (offset: number, length: number, text: string) => block.set(encoder.encode(text).subarray(0, length), offset);
  const octal = (offset: number, length: number, value: number) => put(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
  put(0, 100, fields.name);
  octal(100, 8, fields.mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, fields.size);
  octal(136, 12, fields.mtime);
  put(148, 8, "        ");
  put(156, 1, fields.type);
  put(157, 100, fields.linkname);
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  let sum = 0;
  for (const byte of block) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}
