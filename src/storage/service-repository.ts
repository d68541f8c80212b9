/**
 * The service registry (001 "Service Management", "Service Keys"): external
 * services (`service:external:{name}` JSON, indexed in `services:external`),
 * internal services (the gateway's own API), and `service:url:{name}`, which
 * routes of target_type "service" and `service:{name}` proxies resolve. Every
 * write changes the record, its index, its URL and its owner's bookkeeping in
 * one transaction with a `service_url_changed` event, so each node's host
 * table follows without reading Redis per request.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { queueEvent } from "../orchestration/events";
import { keys } from "./keys";
import { queueDisown, queueOwn, type OwnedResourceKind } from "./ownership";
import type { ServiceDeleteGuard } from "./service-users";
import { watchAndCommit } from "./transaction";

export const EXTERNAL_SERVICE_KIND = "external_service";

/** Registered by the gateway itself at start; never created, changed or deleted through the API. */
export const INTERNAL_SERVICES = ["api"] as const;

/** A service name is a DNS label, so it can also become a hostname (`{name}.{BASE_DOMAIN}`). */
export function isServiceName(name: string): boolean {
  return /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name);
}

/** A proxy's target_url naming a service instead of a URL: `service:{name}`. */
export const SERVICE_TARGET_PREFIX = "service:";

/** The service a proxy target names, or null for a URL. */
export function serviceTargetName(targetUrl: string): string | null {
  return targetUrl.startsWith(SERVICE_TARGET_PREFIX) ? targetUrl.slice(SERVICE_TARGET_PREFIX.length) : null;
}

export interface ExternalServiceRecord {
  service_name: string;
  service_type: "external";
  target_url: string;
  description: string;
  /** false: `service:url:{name}` is removed, so routes and proxies naming it answer 502 until it is on again. */
  routing_enabled: boolean;
  owner_token_hash: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
}

/** A Docker service record as far as the registry reads it (`docker_service:{name}`). */
export interface DockerServiceSummary {
  service_name: string;
  owner_token_hash: string | null;
  status: string | null;
}

export type CreateOutcome = "created" | "taken_external" | "taken_docker";

export class ServiceRepository {
  constructor(private readonly redis: Redis) {}

  /** Stores a new external service unless the name is taken by an external or Docker service. */
  create(record: ExternalServiceRecord): Promise<CreateOutcome> {
    const name = record.service_name;
    return watchAndCommit(this.redis, [keys.serviceExternal(name), keys.dockerService(name)], async (conn) => {
      if (await conn.exists(keys.serviceExternal(name))) return { result: "taken_external" as const };
      if (await conn.exists(keys.dockerService(name))) return { result: "taken_docker" as const };
      const tx = conn.multi();
      queueWrite(tx, null, record);
      return { commit: tx, result: "created" as const };
    });
  }

  async get(name: string): Promise<ExternalServiceRecord | null> {
    return parse(await this.redis.get(keys.serviceExternal(name)));
  }

  async list(): Promise<ExternalServiceRecord[]> {
    const names = (await this.redis.smembers(keys.serviceExternalNames)).sort();
    if (names.length === 0) return [];
    return (await this.redis.mget(names.map(keys.serviceExternal))).map(parse).filter((r): r is ExternalServiceRecord => r !== null);
  }

  /** Applies `change` under WATCH (it may throw to refuse; nothing is written). Null when the service does not exist. */
  update(name: string, change: (current: ExternalServiceRecord) => ExternalServiceRecord): Promise<ExternalServiceRecord | null> {
    return watchAndCommit(this.redis, [keys.serviceExternal(name)], async (conn) => {
      const current = parse(await conn.get(keys.serviceExternal(name)));
      if (!current) return { result: null };
      const updated: ExternalServiceRecord = { ...change(current), service_name: name, service_type: "external", updated_at: new Date().toISOString() };
      const tx = conn.multi();
      queueWrite(tx, current, updated);
      return { commit: tx, result: updated };
    });
  }

  /**
   * Deletes the external service and its URL; false if it did not exist.
   * `guard` runs in the same transaction (it may refuse by throwing, or queue more writes).
   */
  delete(name: string, guard?: ServiceDeleteGuard): Promise<boolean> {
    return watchAndCommit(this.redis, [keys.serviceExternal(name)], async (conn) => {
      const current = parse(await conn.get(keys.serviceExternal(name)));
      if (!current) return { result: false };
      const tx = conn.multi();
      await guard?.(conn, tx);
      queueDelete(tx, current);
      if (current.owner_token_hash) queueDisown(tx, current.owner_token_hash, EXTERNAL_SERVICE_KIND, name);
      return { commit: tx, result: true };
    });
  }

  /** Points an internal service at `url` (announced only when it changes). */
  registerInternal(name: (typeof INTERNAL_SERVICES)[number], url: string): Promise<void> {
    return watchAndCommit(this.redis, [keys.serviceUrl(name)], async (conn) => {
      if ((await conn.get(keys.serviceUrl(name))) === url) return { result: undefined };
      const tx = conn.multi();
      tx.set(keys.serviceUrl(name), url);
      queueEvent(tx, { event_type: "service_url_changed", data: { name } });
      return { commit: tx, result: undefined };
    });
  }

  /** The URL a service name resolves to now, or null. */
  url(name: string): Promise<string | null> {
    return this.redis.get(keys.serviceUrl(name));
  }

  async urls(names: readonly string[]): Promise<(string | null)[]> {
    return names.length === 0 ? [] : this.redis.mget(names.map(keys.serviceUrl));
  }

  /** Docker service records, if any exist (`docker_service:*`); only the fields the registry shows. */
  async listDocker(): Promise<DockerServiceSummary[]> {
    const prefix = keys.dockerService("");
    const found: DockerServiceSummary[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (batch.length === 0) continue;
      const values = await this.redis.mget(batch);
      batch.forEach((key, i) => {
        const record = parseObject(values[i] ?? null);
        if (!record) return;
        found.push({
          service_name: typeof record.service_name === "string" ? record.service_name : key.slice(prefix.length),
          owner_token_hash: typeof record.owner_token_hash === "string" ? record.owner_token_hash : null,
          status: typeof record.status === "string" ? record.status : null,
        });
      });
    } while (cursor !== "0");
    return found.sort((a, b) => a.service_name.localeCompare(b.service_name));
  }

  /** Lets a token's cascade delete remove its external services in the token's transaction. */
  ownedKind(): OwnedResourceKind {
    return {
      kind: EXTERNAL_SERVICE_KIND,
      queueDelete: async (tx, names) => {
        for (const record of await Promise.all(names.map((name) => this.get(name)))) if (record) queueDelete(tx, record);
      },
    };
  }
}

/** The record, its index entry, its URL (when routing is on), the event, and owner bookkeeping when the owner is new or changed. */
function queueWrite(tx: ChainableCommander, previous: ExternalServiceRecord | null, record: ExternalServiceRecord): void {
  const name = record.service_name;
  tx.set(keys.serviceExternal(name), JSON.stringify(record));
  tx.sadd(keys.serviceExternalNames, name);
  if (record.routing_enabled) tx.set(keys.serviceUrl(name), record.target_url);
  else tx.del(keys.serviceUrl(name));
  queueEvent(tx, { event_type: "service_url_changed", data: { name } });
  if (previous?.owner_token_hash === record.owner_token_hash) return;
  if (previous?.owner_token_hash) queueDisown(tx, previous.owner_token_hash, EXTERNAL_SERVICE_KIND, name);
  if (record.owner_token_hash) queueOwn(tx, record.owner_token_hash, EXTERNAL_SERVICE_KIND, name);
}

function queueDelete(tx: ChainableCommander, record: ExternalServiceRecord): void {
  const name = record.service_name;
  tx.del(keys.serviceExternal(name), keys.serviceUrl(name));
  tx.srem(keys.serviceExternalNames, name);
  queueEvent(tx, { event_type: "service_url_changed", data: { name } });
}

function parse(raw: string | null): ExternalServiceRecord | null {
  return raw === null ? null : (JSON.parse(raw) as ExternalServiceRecord);
}

function parseObject(raw: string | null): Record<string, unknown> | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}
