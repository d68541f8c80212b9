/**
 * Port allocation policy over PortRepository: a port is usable when it is not
 * restricted, not one of the gateway's own listeners, not allocated, and
 * bindable on the host right now. Explicit ports are claimed as asked;
 * without one, the first usable port of a range from a preferred one on.
 */
import { hashApiToken } from "../core/api-token";
import { ApiError, badParameter, conflict, invalid } from "../core/errors";
import type { PortAllocation, PortRepository } from "../storage/port-repository";
import { hostPortBusyReason } from "./host-port-probe";
import {
  candidates,
  isBindAddress,
  isPortNumber,
  rangeByKind,
  rangeOf,
  restrictionReason,
  type BindAddress,
  type GatewayPort,
  type PortProtocol,
  type PortRangeKind,
} from "./port-ranges";

/** One entry of a service's `port_configs` (spec "Docker Service Schema"). */
export interface PortConfig {
  name: string;
  /** The host port; absent = the first usable port of `range` (default exposed) from `preferred` on. */
  host?: number;
  container: number;
  bind?: BindAddress;
  protocol?: PortProtocol;
  /** Stored only as its sha256; a tcp port with one is served by the gateway's relay (source-token-relay.ts). */
  source_token?: string;
  /** Follows source_token; given, it must agree with it. */
  require_token?: boolean;
  description?: string;
  range?: PortRangeKind;
  preferred?: number;
}

export interface PortCheck {
  port: number;
  bind_address: BindAddress;
  protocol: PortProtocol;
  available: boolean;
  /** Why not, or null when available. */
  reason: string | null;
  /** The spec range the port lies in, or null outside them. */
  range: PortRangeKind | null;
}

/** Who asks: admins learn which service holds a port, others only that it is taken. */
export interface PortViewer {
  readonly isAdmin: boolean;
  readonly hash: string;
}

/** Consecutive unusable ports an automatic allocation skips before it gives up. */
const MAX_AUTO_ATTEMPTS = 2000;

export class PortAllocator {
  constructor(
    private readonly ports: PortRepository,
    private readonly gatewayPorts: () => readonly GatewayPort[],
  ) {}

  /** Whether `port` could be allocated now on `bind`, and if not why. */
  async check(port: number, bind: BindAddress, protocol: PortProtocol = "tcp", viewer?: PortViewer): Promise<PortCheck> {
    const answer = (reason: string | null): PortCheck => ({ port, bind_address: bind, protocol, available: reason === null, reason, range: rangeOf(port)?.kind ?? null });
    const restricted = restrictionReason(port, this.gatewayPorts());
    if (restricted) return answer(restricted);
    const holder = await this.ports.get(port);
    if (holder) return answer(heldReason(holder, viewer));
    return answer(await hostPortBusyReason(port, bind, protocol));
  }

  /**
   * Allocates one port of a service (Docker services call this for each of
   * their `port_configs`). Throws a 4xx ApiError naming the problem; nothing
   * is written unless the whole allocation succeeds.
   */
  async allocateForService(service: string, config: PortConfig, ownerTokenHash: string | null, viewer?: PortViewer): Promise<PortAllocation> {
    const bind = config.bind ?? "127.0.0.1";
    const protocol = config.protocol ?? "tcp";
    checkConfig(service, config, bind, protocol);
    const template = (hostPort: number): PortAllocation => ({
      service_name: service,
      port_name: config.name,
      host_port: hostPort,
      container_port: config.container,
      bind_address: bind,
      protocol,
      source_token_hash: config.source_token ? hashApiToken(config.source_token) : null,
      require_token: config.require_token ?? Boolean(config.source_token),
      owner_token_hash: ownerTokenHash,
      description: config.description ?? "",
      allocated_at: new Date().toISOString(),
      relay_upstream: null,
    });
    if (config.host !== undefined) {
      const check = await this.check(config.host, bind, protocol, viewer);
      if (!check.available) throw conflict(check.reason!);
      return this.claimOrExplain(template(config.host));
    }
    const range = rangeByKind(config.range ?? "exposed");
    const allocated = new Set(await this.ports.allocatedPorts());
    let tried = 0;
    for (const port of candidates(range, config.preferred)) {
      if (tried++ >= MAX_AUTO_ATTEMPTS) break;
      if (allocated.has(port) || restrictionReason(port, this.gatewayPorts())) continue;
      if (await hostPortBusyReason(port, bind, protocol)) continue;
      const allocation = template(port);
      const claimed = await this.ports.claim(allocation);
      if (claimed.ok) return allocation;
      if (claimed.reason === "name_taken") throw conflict(`service ${service} already has a port named ${config.name} (host port ${claimed.holder.host_port})`);
    }
    throw new ApiError("conflict", `no free port in the ${range.kind} range (${range.start}-${range.end}) after ${tried} tries`);
  }

  /**
   * Changes a port's description, source token (stored as its hash; "" removes
   * it) or bind address in place. A new bind address must be free on the host
   * unless the service's own container holds the port (checked by the caller).
   */
  async update(current: PortAllocation, change: { bind?: unknown; description?: string; source_token?: string }): Promise<PortAllocation> {
    if (change.bind !== undefined && !isBindAddress(change.bind)) throw invalid(`bind: expected 127.0.0.1 or 0.0.0.0, not ${JSON.stringify(change.bind)}`);
    if (change.source_token) checkSourceToken(current.protocol);
    const updated = await this.ports.update(current.host_port, current.service_name, current.port_name, (held) => ({
      ...held,
      ...(change.bind !== undefined ? { bind_address: change.bind as BindAddress } : {}),
      ...(change.description !== undefined ? { description: change.description } : {}),
      ...(change.source_token !== undefined
        ? { source_token_hash: change.source_token === "" ? null : hashApiToken(change.source_token), require_token: change.source_token !== "" }
        : {}),
    }));
    if (!updated) throw conflict(`port ${current.port_name} of service ${current.service_name} changed meanwhile; try again`);
    return updated;
  }

  /** Puts back a port's bind address and source token as `previous` had them (a change whose recreate failed). */
  async restore(previous: PortAllocation): Promise<void> {
    const { bind_address, source_token_hash, require_token, relay_upstream } = previous;
    await this.ports.update(previous.host_port, previous.service_name, previous.port_name, (held) => ({ ...held, bind_address, source_token_hash, require_token, relay_upstream }));
  }

  /** Records where the engine published a token port's container port for the relay (null: not running). */
  async setRelayUpstream(allocation: PortAllocation, upstream: string | null): Promise<void> {
    if ((allocation.relay_upstream ?? null) === upstream) return;
    await this.ports.update(allocation.host_port, allocation.service_name, allocation.port_name, (held) => ({ ...held, relay_upstream: upstream }));
  }

  release(port: number): Promise<PortAllocation | null> {
    return this.ports.release(port);
  }

  releaseService(service: string): Promise<PortAllocation[]> {
    return this.ports.releaseService(service);
  }

  list(): Promise<PortAllocation[]> {
    return this.ports.list();
  }

  listForService(service: string): Promise<PortAllocation[]> {
    return this.ports.listForService(service);
  }

  private async claimOrExplain(allocation: PortAllocation): Promise<PortAllocation> {
    const claimed = await this.ports.claim(allocation);
    if (claimed.ok) return allocation;
    if (claimed.reason === "name_taken") throw conflict(`service ${allocation.service_name} already has a port named ${allocation.port_name} (host port ${claimed.holder.host_port})`);
    throw conflict(`port ${allocation.host_port} is already allocated`);
  }
}

function heldReason(holder: PortAllocation, viewer?: PortViewer): string {
  const visible = !viewer || viewer.isAdmin || viewer.hash === holder.owner_token_hash;
  return visible
    ? `port ${holder.host_port} is allocated to service ${holder.service_name} (port ${holder.port_name}, ${holder.bind_address})`
    : `port ${holder.host_port} is already allocated`;
}

const PORT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

function checkConfig(service: string, config: PortConfig, bind: unknown, protocol: unknown): void {
  if (service.trim() === "" || service.length > 253) throw invalid("service: a service name of 1-253 characters is required");
  if (!PORT_NAME.test(config.name ?? "")) throw invalid("name: a port name of letters, digits, - and _ (at most 63) is required");
  if (config.host !== undefined && !isPortNumber(config.host)) throw invalid(`host: ${String(config.host)} is not a port number (1-65535)`);
  if (!isPortNumber(config.container)) throw invalid(`container: ${String(config.container)} is not a port number (1-65535)`);
  if (!isBindAddress(bind)) throw invalid(`bind: expected 127.0.0.1 or 0.0.0.0, not ${JSON.stringify(bind)}`);
  if (protocol !== "tcp" && protocol !== "udp") throw invalid(`protocol: expected tcp or udp, not ${JSON.stringify(protocol)}`);
  if (config.preferred !== undefined && !isPortNumber(config.preferred)) throw invalid(`preferred: ${String(config.preferred)} is not a port number`);
  if (config.source_token !== undefined) {
    if (config.source_token === "") throw badParameter("source_token: must not be empty; leave it out for a port without one");
    checkSourceToken(protocol);
  }
  if (config.require_token !== undefined && config.require_token !== Boolean(config.source_token)) {
    throw badParameter(`require_token: ${config.require_token} contradicts ${config.source_token ? "the source_token given" : "the missing source_token"}; a port requires a token exactly when it has a source_token`);
  }
}

/** Only HTTP over tcp is relayed with a token check; a udp port cannot have one (docs/services.md "Source tokens"). */
function checkSourceToken(protocol: unknown): void {
  if (protocol !== "tcp") throw badParameter("source_token: only tcp ports can have a source token (the gateway checks it on HTTP requests); udp ports cannot");
}
