/**
 * Cluster API keys (000 manager "Cluster-specific API key isolation"): the
 * record by name (`cluster:keys:key:{name}`), the name by hash
 * (`cluster:keys:hash:{hash}`) for bearer lookup, and `cluster:keys:names`
 * indexing the names. Only the key's sha256 is stored, never the key.
 */
import type { Redis } from "ioredis";
import { keys } from "./keys";
import { watchAndCommit } from "./transaction";

export interface ClusterKeyRecord {
  name: string;
  /** `sha256:<hex>` of the key. */
  hash: string;
  /** The key's first characters, to tell keys apart in listings. */
  preview: string;
  /** The cluster (CLUSTER_NAME) the key works on; any other cluster refuses it. */
  cluster: string;
  created_at: string;
  created_by: string;
}

const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'name_taken' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'hash_taken' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
return 'ok'
`;

export class ClusterKeyRepository {
  constructor(private readonly redis: Redis) {}

  async create(record: ClusterKeyRecord): Promise<"ok" | "name_taken" | "hash_taken"> {
    const result = await this.redis.eval(CREATE_SCRIPT, 3, keys.clusterKey(record.name), keys.clusterKeyByHash(record.hash), keys.clusterKeyNames, JSON.stringify(record), record.name);
    return result as "ok" | "name_taken" | "hash_taken";
  }

  async get(name: string): Promise<ClusterKeyRecord | null> {
    return parse(await this.redis.get(keys.clusterKey(name)));
  }

  async getByHash(hash: string): Promise<ClusterKeyRecord | null> {
    const name = await this.redis.get(keys.clusterKeyByHash(hash));
    if (name === null) return null;
    const record = await this.get(name);
    return record && record.hash === hash ? record : null;
  }

  async list(): Promise<ClusterKeyRecord[]> {
    const names = (await this.redis.smembers(keys.clusterKeyNames)).sort();
    if (names.length === 0) return [];
    const values = await this.redis.mget(names.map(keys.clusterKey));
    return values.map(parse).filter((r): r is ClusterKeyRecord => r !== null);
  }

  /** The deleted record, or null when there was none. */
  async delete(name: string): Promise<ClusterKeyRecord | null> {
    return watchAndCommit(this.redis, [keys.clusterKey(name)], async (conn) => {
      const record = parse(await conn.get(keys.clusterKey(name)));
      if (!record) return { result: null };
      const tx = conn.multi().del(keys.clusterKey(name), keys.clusterKeyByHash(record.hash)).srem(keys.clusterKeyNames, name);
      return { commit: tx, result: record };
    });
  }
}

function parse(raw: string | null): ClusterKeyRecord | null {
  return raw === null ? null : (JSON.parse(raw) as ClusterKeyRecord);
}
