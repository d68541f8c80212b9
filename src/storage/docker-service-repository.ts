/**
 * Docker services (`docker_service:{name}`, spec "Docker Service Schema") and
 * the address a running one answers on (`service:url:{name}`). A write that
 * changes that address queues `service_url_changed` in the same transaction,
 * so every node's routes of target_type "service" follow it.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { queueEvent } from "../orchestration/events";
import { keys } from "./keys";
import { queueDisown, queueOwn, type OwnedResourceKind } from "./ownership";
import type { ServiceDeleteGuard } from "./service-users";
import { watchAndCommit } from "./transaction";

export const DOCKER_SERVICE_KIND = "docker_service";

/** creating: reserved while the container is made; the record is never left in this state by a finished request. */
export type DockerServiceStatus = "creating" | "running" | "stopped";

export interface DockerServiceRecord {
  service_name: string;
  service_type: "docker";
  /** The image the container runs: as given, or portcullis/{name}:{tag} when built from dockerfile_path. */
  image: string;
  /** The Dockerfile (inside DOCKER_BUILD_DIR) the image was built from; null for a service created from an image. */
  dockerfile_path: string | null;
  internal_port: number;
  memory_limit: string | null;
  cpu_limit: number | null;
  environment: Record<string, string>;
  command: string[] | null;
  labels: Record<string, string>;
  bind_address: string;
  /** Networks the container joins besides the engine's default one. */
  networks: string[];
  container_id: string | null;
  container_name: string;
  status: DockerServiceStatus;
  /** http://{host address}:{host port} while running, else null (also stored as service:url:{name}). */
  url: string | null;
  owner_token_hash: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

export class DockerServiceRepository {
  /** Called after a token's cascade delete removed these services' records (the manager removes their containers). */
  onCascadeDeleted: ((records: DockerServiceRecord[]) => void) | null = null;

  constructor(private readonly redis: Redis) {}

  /** Stores a new record (status "creating"); false if the name is taken by a Docker or an external service. */
  reserve(record: DockerServiceRecord): Promise<boolean> {
    const key = keys.dockerService(record.service_name);
    const external = keys.serviceExternal(record.service_name);
    return watchAndCommit(this.redis, [key, external], async (conn) => {
      if (await conn.exists(key, external)) return { result: false };
      const tx = conn.multi();
      tx.set(key, JSON.stringify(record));
      tx.sadd(keys.dockerServiceNames, record.service_name);
      if (record.owner_token_hash) queueOwn(tx, record.owner_token_hash, DOCKER_SERVICE_KIND, record.service_name);
      return { commit: tx, result: true };
    });
  }

  async get(name: string): Promise<DockerServiceRecord | null> {
    return parse(await this.redis.get(keys.dockerService(name)));
  }

  async list(): Promise<DockerServiceRecord[]> {
    const names = (await this.redis.smembers(keys.dockerServiceNames)).sort();
    if (names.length === 0) return [];
    return (await this.redis.mget(names.map(keys.dockerService))).map(parse).filter((r): r is DockerServiceRecord => r !== null);
  }

  /**
   * Applies `change` under WATCH and keeps `service:url:{name}` equal to the
   * record's `url`. Null when the record does not exist.
   */
  update(name: string, change: (current: DockerServiceRecord) => DockerServiceRecord): Promise<DockerServiceRecord | null> {
    const key = keys.dockerService(name);
    return watchAndCommit(this.redis, [key], async (conn) => {
      const current = parse(await conn.get(key));
      if (!current) return { result: null };
      const updated: DockerServiceRecord = { ...change(current), service_name: name, updated_at: new Date().toISOString() };
      const tx = conn.multi();
      tx.set(key, JSON.stringify(updated));
      if (updated.url !== current.url) queueUrl(tx, name, updated.url);
      return { commit: tx, result: updated };
    });
  }

  /**
   * Deletes the record and its URL; the deleted record, or null if there was none.
   * `guard` runs in the same transaction (it may refuse by throwing, or queue more writes).
   */
  delete(name: string, guard?: ServiceDeleteGuard): Promise<DockerServiceRecord | null> {
    const key = keys.dockerService(name);
    return watchAndCommit(this.redis, [key], async (conn) => {
      const current = parse(await conn.get(key));
      if (!current) return { result: null };
      const tx = conn.multi();
      await guard?.(conn, tx);
      queueDeleteService(tx, current);
      return { commit: tx, result: current };
    });
  }

  /** Marks the service as being changed for at most `ms`; the mark's value, or null while another change holds it. */
  async beginChange(name: string, ms: number): Promise<string | null> {
    const mark = crypto.randomUUID();
    return (await this.redis.set(keys.dockerServiceChange(name), mark, "PX", ms, "NX")) === "OK" ? mark : null;
  }

  /** Removes the mark if it is still this change's (an expired one may already be another's). */
  async endChange(name: string, mark: string): Promise<void> {
    await this.redis.eval(END_CHANGE, 1, keys.dockerServiceChange(name), mark);
  }

  /** Lets a token's cascade delete remove its services in the token's transaction. */
  ownedKind(): OwnedResourceKind {
    return {
      kind: DOCKER_SERVICE_KIND,
      queueDelete: async (tx, names) => {
        const records = (await Promise.all(names.map((n) => this.get(n)))).filter((r): r is DockerServiceRecord => r !== null);
        for (const record of records) queueDeleteService(tx, record, false);
        return () => this.onCascadeDeleted?.(records);
      },
    };
  }
}

const END_CHANGE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

function queueUrl(tx: ChainableCommander, name: string, url: string | null): void {
  if (url) tx.set(keys.serviceUrl(name), url);
  else tx.del(keys.serviceUrl(name));
  queueEvent(tx, { event_type: "service_url_changed", data: { name } });
}

function queueDeleteService(tx: ChainableCommander, record: DockerServiceRecord, disown = true): void {
  tx.del(keys.dockerService(record.service_name));
  tx.srem(keys.dockerServiceNames, record.service_name);
  if (disown && record.owner_token_hash) queueDisown(tx, record.owner_token_hash, DOCKER_SERVICE_KIND, record.service_name);
  queueUrl(tx, record.service_name, null);
}

function parse(raw: string | null): DockerServiceRecord | null {
  if (raw === null) return null;
  const record = JSON.parse(raw) as DockerServiceRecord;
  // Records stored before services had networks read as joining none; before Dockerfile builds, as built from none.
  return { ...record, networks: record.networks ?? [], dockerfile_path: record.dockerfile_path ?? null };
}
