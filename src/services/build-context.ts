/**
 * Which files a build may read. Any token may create a service, so a
 * `dockerfile_path` must not become a way to read the gateway's own files
 * (a context of "/" or the data directory, then `COPY secrets.key` into an
 * image the caller runs). A build reads only inside DOCKER_BUILD_DIR: the
 * Dockerfile and its directory (the context) must stay inside it after every
 * symbolic link is resolved, and the context may not hold the data directory.
 * The context is sent as a tar archive, its links as links (never followed),
 * within a size limit.
 */
import { constants } from "node:fs";
import { lstat, open, readdir, readlink, realpath, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { ApiError } from "../core/errors";
import { tarEnd, tarEntry, type TarEntry } from "./tar-archive";

export interface BuildSource {
  /** As the caller gave it (stored in the record). */
  readonly dockerfilePath: string;
  /** The context directory (real path, inside the build directory). */
  readonly contextDir: string;
  /** The Dockerfile's name inside the context. */
  readonly dockerfileName: string;
}

export interface BuildLimits {
  /** DOCKER_BUILD_DIR (null: building is off). */
  readonly buildDir: string | null;
  /** The gateway's data directory: never part of a context. */
  readonly dataDir: string;
  /** Most bytes of a context archive (DOCKER_BUILD_CONTEXT_LIMIT). */
  readonly contextLimitBytes: number;
}

/** Most files and directories in one context. */
export const MAX_CONTEXT_ENTRIES = 100_000;

const refuse = (detail: string) => new ApiError("invalid_parameter", `dockerfile_path: ${detail}`);

/** True when `path` is `root` or below it (both absolute, normalized). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * The Dockerfile and context for `dockerfilePath`, resolved against the build
 * directory: 400 naming the problem when building is off, the path leaves the
 * directory (`..`, an absolute path elsewhere, a link pointing out), or it is
 * not a file.
 */
export async function resolveBuildSource(limits: BuildLimits, dockerfilePath: string): Promise<BuildSource> {
  if (limits.buildDir === null) {
    throw refuse("building from a Dockerfile is off on this gateway: its operator has not set DOCKER_BUILD_DIR (the directory builds may read)");
  }
  if (dockerfilePath.length === 0 || dockerfilePath.length > 1024 || dockerfilePath.includes("\0")) throw refuse("expected a path of 1 to 1024 characters");
  let root: string;
  try {
    root = await realpath(limits.buildDir);
  } catch {
    throw new ApiError("unavailable", `building from a Dockerfile is unavailable: DOCKER_BUILD_DIR=${limits.buildDir} does not exist on the gateway`);
  }
  const wanted = resolve(root, dockerfilePath);
  if (!isInside(root, wanted)) throw refuse(`${JSON.stringify(dockerfilePath)} is outside DOCKER_BUILD_DIR; give a path inside it, like "./dockerfiles/app.Dockerfile"`);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch {
    throw refuse(`${JSON.stringify(dockerfilePath)} does not exist in DOCKER_BUILD_DIR`);
  }
  if (!isInside(root, real)) throw refuse(`${JSON.stringify(dockerfilePath)} leads (through a symbolic link) outside DOCKER_BUILD_DIR`);
  if (!(await stat(real)).isFile()) throw refuse(`${JSON.stringify(dockerfilePath)} is not a file`);
  const contextDir = dirname(real);
  const dataDir = await realpath(limits.dataDir).catch(() => resolve(limits.dataDir));
  if (isInside(contextDir, dataDir)) throw refuse(`the build context ${JSON.stringify(relative(root, contextDir) || ".")} would hold the gateway's data directory; keep Dockerfiles in a directory of their own`);
  return { dockerfilePath, contextDir, dockerfileName: basename(real) };
}

interface Listed {
  readonly path: string;
  readonly absolute: string;
  readonly kind: "file" | "directory" | "symlink";
  readonly size: number;
  readonly mode: number;
  readonly mtime: number;
}

/** Archive bytes of an entry: a header (twice with a long name), data in whole blocks. */
function archiveSize(entry: Listed): number {
  const long = entry.path.length > 99 ? 1024 + entry.path.length : 0;
  return 512 + long + Math.ceil(entry.size / 512) * 512;
}

const tooLarge = (limit: number) =>
  new ApiError("build_context_too_large", `dockerfile_path: the build context is larger than DOCKER_BUILD_CONTEXT_LIMIT (${limit} bytes); keep the Dockerfile in a directory holding only what the build needs`);

/**
 * Lists the context (no link followed; sockets and devices left out) and
 * checks its size before anything is sent: 413 naming the limit.
 */
export async function listContext(contextDir: string, limitBytes: number): Promise<Listed[]> {
  try {
    return await listEntries(contextDir, limitBytes);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    // The code only: the fs message holds the gateway's absolute paths.
    throw new ApiError("invalid_parameter", `dockerfile_path: the build context could not be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

async function listEntries(contextDir: string, limitBytes: number): Promise<Listed[]> {
  const listed: Listed[] = [];
  let total = 1024;
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const absolute = join(dir, name);
      const path = prefix ? `${prefix}/${name}` : name;
      const info = await lstat(absolute);
      const kind = info.isSymbolicLink() ? "symlink" : info.isDirectory() ? "directory" : info.isFile() ? "file" : null;
      if (kind === null) continue;
      const entry: Listed = { path, absolute, kind, size: kind === "file" ? info.size : 0, mode: info.mode, mtime: Math.floor(info.mtimeMs / 1000) };
      listed.push(entry);
      total += archiveSize(entry);
      if (total > limitBytes) throw tooLarge(limitBytes);
      if (listed.length > MAX_CONTEXT_ENTRIES) throw new ApiError("build_context_too_large", `dockerfile_path: the build context holds more than ${MAX_CONTEXT_ENTRIES} files and directories`);
      if (kind === "directory") await walk(absolute, path);
    }
  };
  await walk(contextDir, "");
  return listed;
}

/**
 * The context as a tar stream, reading one file at a time. A file that grew
 * since it was listed fails the stream (the size was checked on the list).
 */
export function contextArchive(listed: readonly Listed[]): Readable {
  async function* blocks(): AsyncGenerator<Uint8Array> {
    for (const item of listed) {
      let entry: TarEntry;
      try {
        entry = await read(item);
      } catch (error) {
        // Named by its place in the context: the fs message holds the gateway's absolute paths.
        throw new Error(`${item.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      yield* tarEntry(entry);
    }
    yield tarEnd();
  }
  return Readable.from(blocks(), { objectMode: false });
}

async function read(item: Listed): Promise<TarEntry> {
  if (item.kind === "directory") return { type: "directory", path: item.path, mode: item.mode, mtime: item.mtime };
  if (item.kind === "symlink") return { type: "symlink", path: item.path, target: await readlink(item.absolute), mtime: item.mtime };
  // O_NOFOLLOW: a file swapped for a link since it was listed is not read through the link.
  const handle = await open(item.absolute, constants.O_RDONLY | constants.O_NOFOLLOW);
  const data = await handle.readFile().finally(() => handle.close());
  if (data.length > item.size) throw new Error("grew while the build context was being sent");
  return { type: "file", path: item.path, mode: item.mode, data, mtime: item.mtime };
}
