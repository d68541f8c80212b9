/** The backup archive and the RDB head it describes: round trip, and every damaged archive refused by name. */
import { describe, expect, test } from "bun:test";
import { packBackup, unpackBackup } from "../../src/backup/archive";
import { summarizeRdb } from "../../src/backup/rdb-summary";

/** An RDB head as Redis 7.0 writes it: aux fields (one integer-encoded), then database 0 with 3 keys (1 expiring), then a key. */
const head = (...tail: number[]) =>
  new Uint8Array([
    ...new TextEncoder().encode("REDIS0010"),
    0xfa, 0x09, ...new TextEncoder().encode("redis-ver"), 0x06, ...new TextEncoder().encode("7.0.15"),
    0xfa, 0x0a, ...new TextEncoder().encode("redis-bits"), 0xc0, 0x40,
    ...tail,
  ]);
const RDB = head(0xfe, 0x00, 0xfb, 0x03, 0x01, 0x00, 0x01, 0x61, 0x01, 0x31, 0xff, 0, 0, 0, 0, 0, 0, 0, 0);

const manifest = {
  product_version: "1.2.3",
  created_at: "2026-12-07T06:00:00.000Z",
  source: { redis: "embedded", database: 0, redis_version: "7.0.15" },
  key_count: 3,
  secrets_key: "included" as const,
};
const KEY = new Uint8Array(32).fill(7);

async function rewrite(archive: Uint8Array, change: (files: Record<string, Uint8Array | string>) => void): Promise<Uint8Array> {
  const files: Record<string, Uint8Array | string> = {};
  for (const [name, file] of await new Bun.Archive(archive).files()) files[name] = new Uint8Array(await file.arrayBuffer());
  change(files);
  return new Bun.Archive(files, { compress: "gzip" }).bytes();
}

const refusal = (bytes: Uint8Array) => unpackBackup(bytes).then(() => "accepted", (err: Error) => err.message);

describe("summarizeRdb", () => {
  test("the writer's version and the gateway database's key count at the snapshot", () => {
    expect(summarizeRdb(RDB, 0)).toEqual({ rdbVersion: 10, redisVersion: "7.0.15", keyCount: 3 });
  });
  test("an empty dataset has no database section: zero keys", () => {
    expect(summarizeRdb(head(0xff, 0, 0, 0, 0, 0, 0, 0, 0), 0).keyCount).toBe(0);
  });
  test("a database after the first is unknown (its keys would have to be decoded); one before a later first database is empty", () => {
    expect(summarizeRdb(RDB, 2).keyCount).toBeNull();
    expect(summarizeRdb(head(0xfe, 0x05, 0xfb, 0x01, 0x00), 1).keyCount).toBe(0);
  });
  test("not an RDB, or cut inside its head: refused", () => {
    expect(() => summarizeRdb(new TextEncoder().encode("hello world"), 0)).toThrow("not a Redis snapshot");
    expect(() => summarizeRdb(RDB.subarray(0, 15), 0)).toThrow("truncated");
  });
});

describe("the backup archive", () => {
  test("round trip: manifest with sizes and checksums, the snapshot, secrets.key and admin-token", async () => {
    const archive = await packBackup({ manifest, rdb: RDB, secretsKey: KEY, adminToken: "pc_admin_secret" });
    const contents = await unpackBackup(archive);
    expect(contents.rdb).toEqual(RDB);
    expect(contents.secretsKey).toEqual(KEY);
    expect(contents.adminToken).toBe("pc_admin_secret");
    expect(contents.manifest).toMatchObject({ format: "portcullis-backup", format_version: 1, ...manifest });
    expect(Object.keys(contents.manifest.files).sort()).toEqual(["admin-token", "redis.rdb", "secrets.key"]);
    expect(contents.manifest.files["redis.rdb"]!.bytes).toBe(RDB.length);
    // A standard tar.gz: what `tar -tzf` lists.
    expect([...(await new Bun.Archive(archive).files()).keys()].sort()).toEqual(["admin-token", "manifest.json", "redis.rdb", "secrets.key"]);
  });

  test("without secrets.key and admin-token (OAUTH_SECRETS_KEY, ADMIN_TOKEN)", async () => {
    const contents = await unpackBackup(await packBackup({ manifest: { ...manifest, secrets_key: "OAUTH_SECRETS_KEY" }, rdb: RDB, secretsKey: null, adminToken: null }));
    expect(contents.secretsKey).toBeNull();
    expect(contents.adminToken).toBeNull();
  });

  test("truncated at any point, or not an archive at all: refused", async () => {
    const archive = await packBackup({ manifest, rdb: RDB, secretsKey: KEY, adminToken: "t" });
    for (const length of [0, 10, archive.length >> 1, archive.length - 1]) {
      expect(await refusal(archive.subarray(0, length))).not.toBe("accepted");
    }
    expect(await refusal(new TextEncoder().encode("just some text"))).toMatch(/not a readable backup archive|not a Portcullis backup/);
  });

  test("a member that does not match the manifest, a missing one, or an unlisted one: refused by name", async () => {
    const archive = await packBackup({ manifest, rdb: RDB, secretsKey: KEY, adminToken: "t" });
    const altered = await rewrite(archive, (files) => {
      const key = new Uint8Array(files["secrets.key"] as Uint8Array);
      key[0] ^= 1;
      files["secrets.key"] = key;
    });
    expect(await refusal(altered)).toBe("secrets.key does not match the manifest (32 bytes, expected 32): the archive is damaged");
    expect(await refusal(await rewrite(archive, (files) => delete files["admin-token"]))).toBe("admin-token is listed in the manifest but missing from the archive");
    expect(await refusal(await rewrite(archive, (files) => (files["../../etc/passwd"] = "x")))).toBe("../../etc/passwd is in the archive but not in its manifest");
    expect(await refusal(await rewrite(archive, (files) => delete files["manifest.json"]))).toBe("not a Portcullis backup: manifest.json is missing");
  });

  test("a manifest of another format or a newer version: refused, saying so", async () => {
    const archive = await packBackup({ manifest, rdb: RDB, secretsKey: null, adminToken: null });
    const edit = (change: (m: any) => void) =>
      rewrite(archive, (files) => {
        const m = JSON.parse(new TextDecoder().decode(files["manifest.json"] as Uint8Array));
        change(m);
        files["manifest.json"] = JSON.stringify(m);
      });
    expect(await refusal(await edit((m) => (m.format_version = 2)))).toMatch(/^backup format version 2 is not one this version reads/);
    expect(await refusal(await edit((m) => (m.format = "other")))).toMatch(/^not a Portcullis backup/);
    // A manifest that says secrets.key is in it, yet it is not: the key that decrypts per-proxy secrets is not silently lost.
    expect(await refusal(await edit((m) => (m.secrets_key = "included")))).toBe('manifest.json says secrets_key is "included", but secrets.key is missing');
    expect(await refusal(await rewrite(archive, (files) => (files["manifest.json"] = "{")))).toBe("manifest.json is not JSON");
  });

  test("a snapshot that is not an RDB (checksums recomputed to match): refused", async () => {
    const archive = await packBackup({ manifest, rdb: new TextEncoder().encode("not an rdb at all"), secretsKey: null, adminToken: null });
    expect(await refusal(archive)).toBe("redis.rdb: not a Redis snapshot (an RDB file starts with REDIS and a 4-digit version)");
  });
});
