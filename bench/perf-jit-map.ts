/**
 * `bun bench/perf-jit-map.ts <jitdump file> [pid]`: names the JavaScript in a
 * `perf` profile of the gateway. The runtime (JavaScriptCore) writes every
 * piece of code it compiles to a JITDump file when started with
 * `BUN_JSC_useJITDump=1 BUN_JSC_jitDumpDirectory=<dir>`; this turns that file
 * into the `/tmp/perf-<pid>.map` that `perf report` and `perf script` read
 * for anonymous executable memory, so samples show `JSC-FTL: decide#…`
 * instead of `[JIT] tid …`. (`perf inject --jit` would do it, but it does not
 * recognise the runtime's `jit-<tid>-<pid>.dump` file names.)
 *
 * Code is freed and its memory reused, so a later record replaces every
 * earlier one it overlaps. Run it after `perf record`, while the process
 * still runs or at least after the profile was taken. For readable names,
 * profile a build without identifier minification:
 * `bun build --compile --minify-whitespace --minify-syntax src/main.ts --outfile /tmp/prof-portcullis`.
 * A profiling aid: not a test, not a benchmark.
 */
import { basename } from "node:path";

const [file, pidArgument] = process.argv.slice(2);
if (!file) {
  console.error("usage: bun bench/perf-jit-map.ts <jit-….dump> [pid]");
  process.exit(2);
}
const pid = pidArgument ?? /-(\d+)\.dump$/.exec(basename(file))?.[1];
if (!pid) {
  console.error("give the pid: the file name does not end in -<pid>.dump");
  process.exit(2);
}

const dump = Buffer.from(await Bun.file(file).arrayBuffer());
const JIT_CODE_LOAD = 0;
// File header: magic, version, header size, … (the JITDump format of the Linux perf tools).
let offset = dump.readUInt32LE(8);
/** Live code ranges by start address, each with its end and name. */
const live = new Map<bigint, { end: bigint; name: string }>();
let records = 0;
while (offset + 16 <= dump.length) {
  const id = dump.readUInt32LE(offset);
  const size = dump.readUInt32LE(offset + 4);
  if (size === 0) break;
  if (id === JIT_CODE_LOAD) {
    // After the record header (16 bytes): pid, tid (u32 each), vma, code address, code size, code index (u64 each), the name.
    const start = dump.readBigUInt64LE(offset + 32);
    const end = start + dump.readBigUInt64LE(offset + 40);
    const nameStart = offset + 56;
    const name = dump.toString("utf8", nameStart, dump.indexOf(0, nameStart)).replace(/\s+/g, " ");
    for (const [otherStart, other] of live) if (otherStart < end && other.end > start) live.delete(otherStart);
    live.set(start, { end, name });
    records++;
  }
  offset += size;
}

const lines = [...live].sort(([a], [b]) => (a < b ? -1 : 1)).map(([start, { end, name }]) => `${start.toString(16)} ${(end - start).toString(16)} ${name}`);
const out = `/tmp/perf-${pid}.map`;
await Bun.write(out, `${lines.join("\n")}\n`);
console.log(`${out}: ${lines.length} live code ranges from ${records} records`);
