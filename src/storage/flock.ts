/**
 * flock(2) through bun:ffi: Bun and node:fs have no file-lock API. Loaded on
 * first use, so CLI commands that never lock never open libc.
 */
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EINTR = 4;
/** EWOULDBLOCK: 11 on Linux, 35 on macOS. */
const WOULD_BLOCK = process.platform === "darwin" ? 35 : 11;

/** libc by platform; errno lives behind a function that returns its address. */
const LIBRARIES: { file: string; errno: string }[] =
  process.platform === "darwin"
    ? [{ file: "/usr/lib/libSystem.B.dylib", errno: "__error" }]
    : [
        { file: "libc.so.6", errno: "__errno_location" }, // glibc
        { file: `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, errno: "__errno_location" },
      ];

let libc: { flock(fd: number, operation: number): number; errno(): number } | undefined;

function loadLibc() {
  const failures: string[] = [];
  for (const { file, errno } of LIBRARIES) {
    try {
      const { symbols } = dlopen(file, {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        [errno]: { args: [], returns: FFIType.ptr },
      });
      const errnoAddress = symbols[errno] as unknown as () => Pointer;
      return { flock: symbols.flock as (fd: number, op: number) => number, errno: () => read.i32(errnoAddress(), 0) };
    } catch (err) {
      failures.push(`${file}: ${(err as Error).message}`);
    }
  }
  throw new Error(`cannot load libc for flock(2) (${failures.join("; ")})`);
}

/** "locked", "held" (another open file holds it), or why it failed. */
export function flockExclusiveNoWait(fd: number): "locked" | "held" | string {
  libc ??= loadLibc();
  for (;;) {
    if (libc.flock(fd, LOCK_EX | LOCK_NB) === 0) return "locked";
    const errno = libc.errno();
    if (errno === EINTR) continue;
    if (errno === WOULD_BLOCK) return "held";
    return `flock failed with errno ${errno}`;
  }
}
