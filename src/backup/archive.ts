/**
 * The backup file: a gzipped tar (readable with `tar -tzf`) of a manifest,
 * the Redis snapshot, `secrets.key` and `admin-token`. The manifest records
 * each file's size and SHA-256, so a truncated or altered archive is refused
 * before anything is restored. Bytes in, bytes out: the file I/O is the
 * caller's, and members are read into memory, never extracted to paths named
 * by the archive.
 */
import { createHash } from "node:crypto";
import { RdbFormatError, summarizeRdb } from "./rdb-summary";

export const BACKUP_FORMAT = "portcullis-backup";
export const BACKUP_FORMAT_VERSION = 1;
const SECRETS_KEY_BYTES = 32;

export const MEMBERS = { manifest: "manifest.json", rdb: "redis.rdb", secretsKey: "secrets.key", adminToken: "admin-token" } as const;

export type SecretsKeyState = "included" | "OAUTH_SECRETS_KEY" | "absent";

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  format_version: number;
  product_version: string;
  created_at: string;
  /** Where the snapshot came from: `embedded` or REDIS_URL without its password, and the gateway's database in it. */
  source: { redis: string; database: number; redis_version: string | null };
  /** Keys in the gateway's database at the snapshot; null when the snapshot does not say. */
  key_count: number | null;
  /** `OAUTH_SECRETS_KEY`: the gateway used that setting, which is not in the archive. */
  secrets_key: SecretsKeyState;
  files: Record<string, { bytes: number; sha256: string }>;
}

export interface BackupContents {
  manifest: BackupManifest;
  rdb: Uint8Array;
  secretsKey: Uint8Array | null;
  adminToken: string | null;
}

export class BackupArchiveError extends Error {
  override name = "BackupArchiveError";
}

export async function packBackup(contents: Omit<BackupContents, "manifest"> & { manifest: Omit<BackupManifest, "files" | "format" | "format_version"> }): Promise<Uint8Array> {
  const members: Record<string, Uint8Array> = { [MEMBERS.rdb]: contents.rdb };
  if (contents.secretsKey) members[MEMBERS.secretsKey] = contents.secretsKey;
  if (contents.adminToken !== null) members[MEMBERS.adminToken] = new TextEncoder().encode(`${contents.adminToken}\n`);
  const files: BackupManifest["files"] = {};
  for (const [name, bytes] of Object.entries(members)) files[name] = { bytes: bytes.length, sha256: sha256(bytes) };
  const manifest: BackupManifest = { format: BACKUP_FORMAT, format_version: BACKUP_FORMAT_VERSION, ...contents.manifest, files };
  const archive = new Bun.Archive({ [MEMBERS.manifest]: JSON.stringify(manifest, null, 2) + "\n", ...members }, { compress: "gzip" });
  return archive.bytes();
}

/** The archive's contents, checked against its manifest; throws BackupArchiveError naming what is wrong. */
export async function unpackBackup(bytes: Uint8Array): Promise<BackupContents> {
  let entries: Map<string, File>;
  try {
    entries = await new Bun.Archive(bytes).files();
  } catch (err) {
    throw new BackupArchiveError(`not a readable backup archive (${(err as Error).message})`);
  }
  const manifestFile = entries.get(MEMBERS.manifest);
  if (!manifestFile) throw new BackupArchiveError(`not a Portcullis backup: ${MEMBERS.manifest} is missing`);
  const manifest = parseManifest(await manifestFile.text());

  const read: Record<string, Uint8Array> = {};
  for (const [name, file] of entries) {
    if (name === MEMBERS.manifest) continue;
    const expected = manifest.files[name];
    if (!expected) throw new BackupArchiveError(`${name} is in the archive but not in its manifest`);
    const content = new Uint8Array(await file.arrayBuffer());
    if (content.length !== expected.bytes || sha256(content) !== expected.sha256) {
      throw new BackupArchiveError(`${name} does not match the manifest (${content.length} bytes, expected ${expected.bytes}): the archive is damaged`);
    }
    read[name] = content;
  }
  for (const name of Object.keys(manifest.files)) if (!read[name]) throw new BackupArchiveError(`${name} is listed in the manifest but missing from the archive`);

  const rdb = read[MEMBERS.rdb];
  if (!rdb) throw new BackupArchiveError(`${MEMBERS.rdb} (the Redis snapshot) is missing`);
  try {
    summarizeRdb(rdb, manifest.source.database);
  } catch (err) {
    if (err instanceof RdbFormatError) throw new BackupArchiveError(`${MEMBERS.rdb}: ${err.message}`);
    throw err;
  }
  const secretsKey = read[MEMBERS.secretsKey] ?? null;
  if ((manifest.secrets_key === "included") !== (secretsKey !== null)) {
    throw new BackupArchiveError(`${MEMBERS.manifest} says secrets_key is ${JSON.stringify(manifest.secrets_key)}, but ${MEMBERS.secretsKey} is ${secretsKey ? "there" : "missing"}`);
  }
  if (secretsKey && secretsKey.length !== SECRETS_KEY_BYTES) throw new BackupArchiveError(`${MEMBERS.secretsKey}: expected ${SECRETS_KEY_BYTES} bytes, found ${secretsKey.length}`);
  const tokenBytes = read[MEMBERS.adminToken];
  const adminToken = tokenBytes ? new TextDecoder().decode(tokenBytes).trim() : null;
  if (adminToken !== null && !/^[\x21-\x7e]{1,512}$/.test(adminToken)) throw new BackupArchiveError(`${MEMBERS.adminToken}: not a token`);
  return { manifest, rdb, secretsKey, adminToken };
}

function parseManifest(text: string): BackupManifest {
  let value: any;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BackupArchiveError(`${MEMBERS.manifest} is not JSON`);
  }
  if (value?.format !== BACKUP_FORMAT) throw new BackupArchiveError(`not a Portcullis backup (${MEMBERS.manifest} has no "format": "${BACKUP_FORMAT}")`);
  if (value.format_version !== BACKUP_FORMAT_VERSION) {
    throw new BackupArchiveError(`backup format version ${JSON.stringify(value.format_version)} is not one this version reads (${BACKUP_FORMAT_VERSION}); use the Portcullis that made it or a newer one`);
  }
  const database = value.source?.database;
  if (!Number.isInteger(database) || database < 0) throw new BackupArchiveError(`${MEMBERS.manifest}: source.database must be a database index`);
  if (typeof value.files !== "object" || value.files === null) throw new BackupArchiveError(`${MEMBERS.manifest}: files is missing`);
  for (const [name, entry] of Object.entries<any>(value.files)) {
    if (!Number.isInteger(entry?.bytes) || typeof entry?.sha256 !== "string") throw new BackupArchiveError(`${MEMBERS.manifest}: files.${name} needs bytes and sha256`);
  }
  return value as BackupManifest;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
