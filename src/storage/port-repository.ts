/**
 * Host port allocations (spec "Port Schema", "Port Management Keys"):
 * `port:{port}` holds one allocation, `service:ports:{service}` maps a
 * service's port names to theirs, and `ports:allocated` indexes the ports.
 * A claim is one Lua script, so of many concurrent claims of one port exactly
 * one wins; releases are WATCH/MULTI transactions. Ownership: each allocation
 * is listed under its owner token for cascade delete. Every change queues
 * `service_port_changed` with it, so each node's source-token relay follows.
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { BindAddress, PortProtocol } from "../services/port-ranges";
import { eventFields, queueEvent, XADD_EVENT } from "../orchestration/events";
import { keys } from "./keys";
import { ownershipMember, queueDisown, type OwnedResourceKind } from "./ownership";
import { watchAndCommit } from "./transaction";

export const PORT_KIND = "port";

export interface PortAllocation {
  service_name: string;
  port_name: string;
  host_port: number;
  container_port: number;
  bind_address: BindAddress;
  protocol: PortProtocol;
  /** `sha256:<hex>` of the port's source token; the token itself is never stored. */
  source_token_hash: string | null;
  require_token: boolean;
  owner_token_hash: string | null;
  description: string;
  allocated_at: string;
  /**
   * A token port only (source_token_hash set, tcp): `127.0.0.1:{port}` where
   * the engine published the container port for the gateway's relay, while
   * the container runs; null otherwise. Absent in records written before
   * source tokens were enforced.
   */
  relay_upstream?: string | null;
}

/** The event every allocation change queues; `port` names the host port. */
const portChanged = (allocation: PortAllocation) => ({
  event_type: "service_port_changed" as const,
  data: { service: allocation.service_name, port: allocation.host_port },
});

export type ClaimResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "port_taken" | "name_taken"; readonly holder: PortAllocation };

/**
 * KEYS: port record, service hash, index, owner set, event stream. ARGV:
 * record JSON, port name, host port, owner member ('' when unowned), then the
 * event's fields. Refuses a taken port or a port name the service already
 * uses, returning the holder.
 */
const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held then return {'port_taken', held} end
local named = redis.call('HGET', KEYS[2], ARGV[2])
if named then return {'name_taken', named} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[3])
if ARGV[4] ~= '' then redis.call('SADD', KEYS[4], ARGV[4]) end
${XADD_EVENT(5, 5)}
return {'ok'}
`;

export class PortRepository {
  constructor(private readonly redis: Redis) {}

  /** Records the allocation if its host port is free and its service has no port of that name. */
  async claim(allocation: PortAllocation): Promise<ClaimResult> {
    const owner = allocation.owner_token_hash;
    const [outcome, holder] = (await this.redis.eval(
      CLAIM,
      5,
      keys.port(allocation.host_port),
      keys.servicePorts(allocation.service_name),
      keys.allocatedPorts,
      keys.ownedBy(owner ?? "none"),
      keys.workflowStream,
      JSON.stringify(allocation),
      allocation.port_name,
      String(allocation.host_port),
      owner ? ownershipMember(PORT_KIND, String(allocation.host_port)) : "",
      ...eventFields(portChanged(allocation)),
    )) as [string, string?];
    if (outcome === "ok") return { ok: true };
    return { ok: false, reason: outcome as "port_taken" | "name_taken", holder: JSON.parse(holder!) as PortAllocation };
  }

  async get(port: number): Promise<PortAllocation | null> {
    return parse(await this.redis.get(keys.port(port)));
  }

  /** Every allocation, by host port. */
  async list(): Promise<PortAllocation[]> {
    const ports = await this.redis.zrange(keys.allocatedPorts, "0", "-1");
    if (ports.length === 0) return [];
    return (await this.redis.mget(ports.map((p) => keys.port(Number(p))))).map(parse).filter((a): a is PortAllocation => a !== null);
  }

  /** The allocated host ports (cheaper than list when only numbers matter). */
  async allocatedPorts(): Promise<number[]> {
    return (await this.redis.zrange(keys.allocatedPorts, "0", "-1")).map(Number);
  }

  /** A service's allocations, by host port. */
  async listForService(service: string): Promise<PortAllocation[]> {
    const values = await this.redis.hvals(keys.servicePorts(service));
    return values.map((v) => JSON.parse(v) as PortAllocation).sort((a, b) => a.host_port - b.host_port);
  }

  /** Rewrites one allocation (its service entry too); the new record, or null if the port is not allocated to this service and name. */
  update(port: number, service: string, portName: string, change: (current: PortAllocation) => PortAllocation): Promise<PortAllocation | null> {
    return watchAndCommit(this.redis, [keys.port(port)], async (conn) => {
      const current = parse(await conn.get(keys.port(port)));
      if (!current || current.service_name !== service || current.port_name !== portName) return { result: null };
      const next = { ...change(current), service_name: current.service_name, port_name: current.port_name, host_port: current.host_port, owner_token_hash: current.owner_token_hash };
      const json = JSON.stringify(next);
      const tx = conn.multi();
      tx.set(keys.port(port), json);
      tx.hset(keys.servicePorts(service), portName, json);
      queueEvent(tx, portChanged(next));
      return { commit: tx, result: next };
    });
  }

  /** Releases one host port; the released allocation, or null if it was not allocated. */
  release(port: number): Promise<PortAllocation | null> {
    return watchAndCommit(this.redis, [keys.port(port)], async (conn) => {
      const current = parse(await conn.get(keys.port(port)));
      if (!current) return { result: null };
      const tx = conn.multi();
      queueRelease(tx, current);
      return { commit: tx, result: current };
    });
  }

  /** Releases every port of a service at once; what was released. */
  async releaseService(service: string): Promise<PortAllocation[]> {
    const hash = keys.servicePorts(service);
    return watchAndCommit(this.redis, [hash], async (conn) => {
      const listed = (await conn.hvals(hash)).map((v) => JSON.parse(v) as PortAllocation);
      if (listed.length === 0) return { result: [] };
      const tx = conn.multi();
      for (const allocation of listed) queueRelease(tx, allocation);
      return { commit: tx, result: listed.sort((a, b) => a.host_port - b.host_port) };
    });
  }

  /** Lets a token's cascade delete release its ports in the token's transaction. */
  ownedKind(): OwnedResourceKind {
    return {
      kind: PORT_KIND,
      queueDelete: async (tx, ids) => {
        for (const allocation of await Promise.all(ids.map((id) => this.get(Number(id))))) if (allocation) queueRelease(tx, allocation, false);
      },
    };
  }
}

/** The record, the service's entry, the index entry and (unless the owner set goes as a whole) the owner's bookkeeping. */
function queueRelease(tx: ChainableCommander, allocation: PortAllocation, disown = true): void {
  tx.del(keys.port(allocation.host_port));
  tx.hdel(keys.servicePorts(allocation.service_name), allocation.port_name);
  tx.zrem(keys.allocatedPorts, String(allocation.host_port));
  if (disown && allocation.owner_token_hash) queueDisown(tx, allocation.owner_token_hash, PORT_KIND, String(allocation.host_port));
  queueEvent(tx, portChanged(allocation));
}

function parse(raw: string | null): PortAllocation | null {
  return raw === null ? null : (JSON.parse(raw) as PortAllocation);
}
