/**
 * What a backup's manifest says about its Redis snapshot, read from the RDB's
 * head without loading it: that it is an RDB at all, the Redis version that
 * wrote it, and the key count of the gateway's database. Redis writes, before
 * each database's keys, a RESIZEDB record with its size at the instant of the
 * snapshot; databases come in ascending order and empty ones are left out. The
 * keys themselves are not decoded, so only the first database's count is
 * known: when the gateway's database comes later, the count is null.
 */

export interface RdbSummary {
  /** The RDB format version (10 for Redis 7.0). */
  rdbVersion: number;
  /** The `redis-ver` field, when the writer recorded one. */
  redisVersion: string | null;
  /** Keys in the database asked for, including keys that expire before they are loaded; null when unknown. */
  keyCount: number | null;
}

export class RdbFormatError extends Error {
  override name = "RdbFormatError";
}

const OPCODE_AUX = 0xfa;
const OPCODE_RESIZEDB = 0xfb;
const OPCODE_SELECTDB = 0xfe;
const OPCODE_EOF = 0xff;

export function summarizeRdb(rdb: Uint8Array, database: number): RdbSummary {
  const magic = new TextDecoder().decode(rdb.subarray(0, 9));
  const version = /^REDIS(\d{4})$/.exec(magic);
  if (!version) throw new RdbFormatError("not a Redis snapshot (an RDB file starts with REDIS and a 4-digit version)");
  const reader = new Reader(rdb, 9);
  const summary: RdbSummary = { rdbVersion: Number(version[1]), redisVersion: null, keyCount: null };
  let currentDb = 0;
  try {
    for (;;) {
      const opcode = reader.byte();
      if (opcode === OPCODE_AUX) {
        const key = reader.string();
        const value = reader.string();
        if (key === "redis-ver" && value !== null) summary.redisVersion = value;
      } else if (opcode === OPCODE_SELECTDB) {
        currentDb = reader.length();
        // Databases come in ascending order: one past the gateway's means its database is empty.
        if (currentDb > database) return { ...summary, keyCount: 0 };
      } else if (opcode === OPCODE_RESIZEDB) {
        const size = reader.length();
        if (currentDb === database) return { ...summary, keyCount: size };
        return summary;
      } else if (opcode === OPCODE_EOF) {
        return { ...summary, keyCount: 0 };
      } else {
        // Keys (their type byte), functions or module data: the count cannot be read without decoding them.
        return summary;
      }
    }
  } catch (err) {
    if (err instanceof RangeError) throw new RdbFormatError("the Redis snapshot is truncated");
    throw err;
  }
}

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    private at: number,
  ) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw new RangeError("end of snapshot");
    return this.bytes[this.at++]!;
  }

  skip(count: number): void {
    if (this.at + count > this.bytes.length) throw new RangeError("end of snapshot");
    this.at += count;
  }

  /** A length; special encodings (integers, LZF) come back as `{ special }`. */
  private encodedLength(): number | { special: number } {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return first & 0x3f;
      case 1:
        return ((first & 0x3f) << 8) | this.byte();
      case 2: {
        if (first !== 0x80 && first !== 0x81) throw new RdbFormatError(`unknown length encoding 0x${first.toString(16)} in the Redis snapshot`);
        let value = 0;
        for (let i = 0; i < (first === 0x80 ? 4 : 8); i++) value = value * 256 + this.byte();
        return value;
      }
      default:
        return { special: first & 0x3f };
    }
  }

  length(): number {
    const value = this.encodedLength();
    if (typeof value !== "number") throw new RdbFormatError("a length in the Redis snapshot is encoded as a string");
    return value;
  }

  /** A string field; null for a compressed one (skipped, not inflated). */
  string(): string | null {
    const value = this.encodedLength();
    if (typeof value === "number") {
      this.skip(value);
      return new TextDecoder().decode(this.bytes.subarray(this.at - value, this.at));
    }
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset);
    switch (value.special) {
      case 0:
        this.skip(1);
        return String(view.getInt8(this.at - 1));
      case 1:
        this.skip(2);
        return String(view.getInt16(this.at - 2, true));
      case 2:
        this.skip(4);
        return String(view.getInt32(this.at - 4, true));
      case 3: {
        const compressed = this.length();
        this.length(); // its inflated length
        this.skip(compressed);
        return null;
      }
      default:
        throw new RdbFormatError(`unknown string encoding ${value.special} in the Redis snapshot`);
    }
  }
}
