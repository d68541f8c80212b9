/**
 * What a build may read (DOCKER_BUILD_DIR confinement: `..`, absolute paths,
 * symbolic links out, the data directory) and the context archive it sends
 * (read back by GNU tar; links kept as links; the size limit).
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { contextArchive, isInside, listContext, resolveBuildSource, type BuildLimits } from "../../src/services/build-context";
import { ApiError } from "../../src/core/errors";
import { tempDir } from "../helpers/temp";

function tree(): { root: string; outside: string; data: string } {
  const base = tempDir("build-context");
  const root = join(base, "builds");
  const outside = join(base, "outside");
  const data = join(base, "data");
  for (const dir of [root, join(root, "dockerfiles"), join(root, "app", "src"), outside, data]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(root, "dockerfiles", "custom.Dockerfile"), "FROM scratch\n");
  writeFileSync(join(root, "app", "Dockerfile"), "FROM scratch\nCOPY src /src\n");
  writeFileSync(join(root, "app", "src", "index.html"), "hello\n");
  writeFileSync(join(outside, "Dockerfile"), "FROM scratch\n");
  writeFileSync(join(data, "secrets.key"), "SECRET\n");
  symlinkSync(join(outside, "Dockerfile"), join(root, "dockerfiles", "escape.Dockerfile"));
  symlinkSync(outside, join(root, "linked-dir"));
  symlinkSync("custom.Dockerfile", join(root, "dockerfiles", "alias.Dockerfile"));
  return { root, outside, data };
}

async function refusal(limits: BuildLimits, path: string): Promise<{ status: number; error: string; detail: string }> {
  try {
    await resolveBuildSource(limits, path);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, error: error.code, detail: error.detail };
    throw error;
  }
  throw new Error(`${path} was not refused`);
}

describe("confinement to DOCKER_BUILD_DIR", () => {
  test("a path inside resolves to its directory as the context (the spec's ./dockerfiles/custom.Dockerfile)", async () => {
    const { root, data } = tree();
    const limits = { buildDir: root, dataDir: data, contextLimitBytes: 1 << 20 };
    expect(await resolveBuildSource(limits, "./dockerfiles/custom.Dockerfile")).toEqual({
      dockerfilePath: "./dockerfiles/custom.Dockerfile",
      contextDir: join(root, "dockerfiles"),
      dockerfileName: "custom.Dockerfile",
    });
    expect((await resolveBuildSource(limits, "app/Dockerfile")).contextDir).toBe(join(root, "app"));
    // An absolute path inside it is fine; a link inside pointing inside is followed to its file.
    expect((await resolveBuildSource(limits, join(root, "app", "Dockerfile"))).dockerfileName).toBe("Dockerfile");
    expect((await resolveBuildSource(limits, "dockerfiles/alias.Dockerfile")).dockerfileName).toBe("custom.Dockerfile");
  });

  test("unset: every dockerfile_path is refused, naming the setting", async () => {
    const { data } = tree();
    const refused = await refusal({ buildDir: null, dataDir: data, contextLimitBytes: 1 << 20 }, "./Dockerfile");
    expect(refused.status).toBe(400);
    expect(refused.detail).toContain("DOCKER_BUILD_DIR");
  });

  test("`..`, absolute paths elsewhere, links pointing out, directories and missing files are refused with 400", async () => {
    const { root, outside, data } = tree();
    const limits = { buildDir: root, dataDir: data, contextLimitBytes: 1 << 20 };
    const cases: [string, string][] = [
      ["../outside/Dockerfile", "outside DOCKER_BUILD_DIR"],
      ["dockerfiles/../../outside/Dockerfile", "outside DOCKER_BUILD_DIR"],
      ["..", "outside DOCKER_BUILD_DIR"],
      [join(outside, "Dockerfile"), "outside DOCKER_BUILD_DIR"],
      ["/etc/passwd", "outside DOCKER_BUILD_DIR"],
      [join(data, "secrets.key"), "outside DOCKER_BUILD_DIR"],
      ["dockerfiles/escape.Dockerfile", "symbolic link"],
      ["linked-dir/Dockerfile", "symbolic link"],
      ["dockerfiles", "not a file"],
      [".", "not a file"],
      ["dockerfiles/missing.Dockerfile", "does not exist"],
      ["bad\0name", "1 to 1024 characters"],
    ];
    for (const [path, says] of cases) {
      const refused = await refusal(limits, path);
      expect({ path, status: refused.status, error: refused.error, says: refused.detail.includes(says), named: refused.detail.startsWith("dockerfile_path:") }).toEqual({
        path,
        status: 400,
        error: "invalid_parameter",
        says: true,
        named: true,
      });
    }
  });

  test("a build directory reached through a link still confines (the real paths are compared)", async () => {
    const { root, data } = tree();
    const link = join(tempDir("build-link"), "builds");
    symlinkSync(root, link);
    const limits = { buildDir: link, dataDir: data, contextLimitBytes: 1 << 20 };
    expect((await resolveBuildSource(limits, "app/Dockerfile")).contextDir).toBe(join(root, "app"));
    expect((await refusal(limits, "dockerfiles/escape.Dockerfile")).detail).toContain("symbolic link");
  });

  test("a context that would hold the gateway's data directory is refused", async () => {
    const { root } = tree();
    const data = join(root, "app", "state");
    mkdirSync(data);
    const limits = { buildDir: root, dataDir: data, contextLimitBytes: 1 << 20 };
    expect((await refusal(limits, "app/Dockerfile")).detail).toContain("data directory");
    // The build directory itself as context, holding it further down, too.
    writeFileSync(join(root, "Dockerfile"), "FROM scratch\n");
    expect((await refusal(limits, "Dockerfile")).detail).toContain("data directory");
    // A sibling context is fine.
    expect((await resolveBuildSource(limits, "dockerfiles/custom.Dockerfile")).contextDir).toBe(join(root, "dockerfiles"));
  });

  test("a missing DOCKER_BUILD_DIR is 503 naming it", async () => {
    const refused = await refusal({ buildDir: "/nonexistent/builds", dataDir: "/nonexistent/data", contextLimitBytes: 1 << 20 }, "Dockerfile");
    expect([refused.status, refused.detail.includes("DOCKER_BUILD_DIR=/nonexistent/builds")]).toEqual([503, true]);
  });

  test("isInside compares path components, not prefixes", () => {
    expect(isInside("/srv/builds", "/srv/builds")).toBe(true);
    expect(isInside("/srv/builds", "/srv/builds/a/b")).toBe(true);
    expect(isInside("/srv/builds", "/srv/builds-other/x")).toBe(false);
    expect(isInside("/srv/builds", "/srv")).toBe(false);
    expect(isInside("/srv/builds", "/srv/builds/..x")).toBe(true);
  });
});

async function archiveOf(dir: string, limit = 1 << 20): Promise<string> {
  const file = join(tempDir("build-archive"), "context.tar");
  const chunks: Buffer[] = [];
  for await (const chunk of contextArchive(await listContext(dir, limit))) chunks.push(Buffer.from(chunk));
  writeFileSync(file, Buffer.concat(chunks));
  return file;
}

async function tar(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(["tar", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

describe("the context archive", () => {
  test("GNU tar reads it back: files with their modes, nested and long names, links as links", async () => {
    const dir = tempDir("build-src");
    const long = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(80)}.txt`;
    mkdirSync(join(dir, "sub", "deeper"), { recursive: true });
    mkdirSync(join(dir, long, ".."), { recursive: true });
    writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
    writeFileSync(join(dir, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
    writeFileSync(join(dir, "sub", "deeper", "blob.bin"), Buffer.alloc(1500, 7));
    writeFileSync(join(dir, "sub", "empty"), "");
    writeFileSync(join(dir, long), "long name\n");
    writeFileSync(join(dir, "ünïcode.txt"), "utf-8 name\n");
    symlinkSync("/etc/passwd", join(dir, "points-out"));
    symlinkSync(`/${"x".repeat(150)}`, join(dir, "long-link"));

    const file = await archiveOf(dir);
    const out = join(tempDir("build-out"), "x");
    mkdirSync(out);
    const extracted = await tar("-xf", file, "-C", out);
    expect(extracted).toMatchObject({ code: 0, stderr: "" });
    expect(readFileSync(join(out, "Dockerfile"), "utf8")).toBe("FROM scratch\n");
    expect(readFileSync(join(out, "sub", "deeper", "blob.bin"))).toEqual(Buffer.alloc(1500, 7));
    expect(readFileSync(join(out, "sub", "empty"), "utf8")).toBe("");
    expect(readFileSync(join(out, long), "utf8")).toBe("long name\n");
    expect(readFileSync(join(out, "ünïcode.txt"), "utf8")).toBe("utf-8 name\n");
    // Links travel as links: the file they point at is not in the archive.
    expect(readlinkSync(join(out, "points-out"))).toBe("/etc/passwd");
    expect(readlinkSync(join(out, "long-link"))).toBe(`/${"x".repeat(150)}`);
    const listing = await tar("-tvf", file);
    expect(listing.stdout).toMatch(/-rwxr-xr-x .* run\.sh/);
    expect(listing.stdout).not.toContain("root:x:0:0");
  });

  test("a context over the limit is refused before anything is sent (413 naming the limit)", async () => {
    const dir = tempDir("build-big");
    writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
    writeFileSync(join(dir, "big.bin"), Buffer.alloc(64 * 1024));
    try {
      await listContext(dir, 32 * 1024);
      throw new Error("not refused");
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect([(error as ApiError).status, (error as ApiError).detail.includes("DOCKER_BUILD_CONTEXT_LIMIT (32768 bytes)")]).toEqual([413, true]);
    }
    expect((await listContext(dir, 128 * 1024)).map((e) => e.path)).toEqual(["Dockerfile", "big.bin"]);
  });

  test("a file that changes between the listing and the sending fails the archive, named by its place in the context only", async () => {
    const dir = tempDir("build-race");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "gone.txt"), "soon gone\n");
    writeFileSync(join(dir, "grows.txt"), "small\n");
    const listed = await listContext(dir, 1 << 20);
    const drain = async () => {
      try {
        for await (const _ of contextArchive(listed)) {
          // read it all
        }
        return "no error";
      } catch (error) {
        return (error as Error).message;
      }
    };
    writeFileSync(join(dir, "grows.txt"), "much larger than before\n");
    expect(await drain()).toBe("grows.txt: grew while the build context was being sent");
    writeFileSync(join(dir, "grows.txt"), "small\n");
    unlinkSync(join(dir, "sub", "gone.txt"));
    expect(await drain()).toBe("sub/gone.txt: ENOENT");
    // A file swapped for a link after the listing is not read through the link.
    rmSync(join(dir, "sub"), { recursive: true });
    mkdirSync(join(dir, "sub"));
    symlinkSync("/etc/passwd", join(dir, "sub", "gone.txt"));
    expect(await drain()).toBe("sub/gone.txt: ELOOP");
  });

  test("an unreadable context is a 400 naming only the error code", async () => {
    try {
      await listContext(join(tempDir("build-missing"), "nope"), 1 << 20);
      throw new Error("not refused");
    } catch (error) {
      expect([(error as ApiError).status, (error as ApiError).detail]).toEqual([400, "dockerfile_path: the build context could not be read (ENOENT)"]);
    }
  });
});
