/**
 * The spec's port ranges and restricted ports (001 "Port Management
 * Architecture"), and the checks that say why a host port cannot be used.
 * Pure: no Redis, no sockets; the gateway's own listening ports come in as data.
 */

export type PortRangeKind = "internal_http" | "internal_https" | "exposed";

export interface PortRange {
  readonly kind: PortRangeKind;
  readonly start: number;
  readonly end: number;
  readonly description: string;
}

export const PORT_RANGES: readonly PortRange[] = [
  { kind: "internal_http", start: 9000, end: 9999, description: "internal HTTP services" },
  { kind: "internal_https", start: 10000, end: 10999, description: "internal HTTPS services" },
  { kind: "exposed", start: 11000, end: 65535, description: "user services" },
];

/** System-reserved ports (spec "Restricted Ports"), with the service that usually holds each. */
export const RESTRICTED_PORTS: ReadonlyMap<number, string> = new Map([
  [22, "ssh"],
  [25, "smtp"],
  [53, "dns"],
  [80, "http"],
  [443, "https"],
  [3306, "mysql"],
  [5432, "postgresql"],
  [6379, "redis"],
  [27017, "mongodb"],
]);

export const BIND_ADDRESSES = ["127.0.0.1", "0.0.0.0"] as const;
export type BindAddress = (typeof BIND_ADDRESSES)[number];
export const PORT_PROTOCOLS = ["tcp", "udp"] as const;
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

/** A port the running gateway listens on, by the setting that chose it (e.g. API_PORT). */
export interface GatewayPort {
  readonly setting: string;
  readonly port: number;
}

export function isPortNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}

export function isBindAddress(value: unknown): value is BindAddress {
  return typeof value === "string" && (BIND_ADDRESSES as readonly string[]).includes(value);
}

export function rangeOf(port: number): PortRange | null {
  return PORT_RANGES.find((r) => port >= r.start && port <= r.end) ?? null;
}

export function rangeByKind(kind: PortRangeKind): PortRange {
  return PORT_RANGES.find((r) => r.kind === kind)!;
}

/**
 * Why the port may never be allocated (restricted, or one of the gateway's
 * own listeners), or null. Allocation by others and use on the host are
 * checked elsewhere: they change over time.
 */
export function restrictionReason(port: number, gatewayPorts: readonly GatewayPort[]): string | null {
  if (!isPortNumber(port)) return `${String(port)} is not a port number (1-65535)`;
  const reserved = RESTRICTED_PORTS.get(port);
  if (reserved) return `port ${port} is restricted (system reserved: ${reserved})`;
  const own = gatewayPorts.find((g) => g.port === port);
  if (own) return `port ${port} is the gateway's own listening port (${own.setting})`;
  return null;
}

/** Every port no allocation may take: the restricted list and the gateway's listeners. */
export function unusablePorts(gatewayPorts: readonly GatewayPort[]): number[] {
  const ports = new Set<number>(RESTRICTED_PORTS.keys());
  for (const g of gatewayPorts) if (isPortNumber(g.port)) ports.add(g.port);
  return [...ports].sort((a, b) => a - b);
}

/**
 * Two allocations of one host port conflict whatever their bind addresses:
 * 0.0.0.0 covers 127.0.0.1, and one address cannot hold a port twice. With
 * only these two addresses allowed, one host port holds one allocation.
 */
export function bindAddressesConflict(a: BindAddress, b: BindAddress): boolean {
  return a === b || a === "0.0.0.0" || b === "0.0.0.0";
}

/** The ports of [start, end] not in `taken`, as [first, last] runs. */
export function freeRuns(start: number, end: number, taken: Iterable<number>): [number, number][] {
  const skip = [...new Set(taken)].filter((p) => p >= start && p <= end).sort((a, b) => a - b);
  const runs: [number, number][] = [];
  let next = start;
  for (const port of skip) {
    if (port > next) runs.push([next, port - 1]);
    next = port + 1;
  }
  if (next <= end) runs.push([next, end]);
  return runs;
}

export interface RangeAvailability {
  readonly kind: PortRangeKind;
  readonly start: number;
  readonly end: number;
  readonly description: string;
  /** Free ports as [first, last] runs. */
  readonly free: [number, number][];
  readonly free_count: number;
}

/** Per range: what is neither restricted, the gateway's, nor allocated. */
export function availability(allocated: Iterable<number>, gatewayPorts: readonly GatewayPort[]): RangeAvailability[] {
  const taken = [...unusablePorts(gatewayPorts), ...allocated];
  return PORT_RANGES.map((r) => {
    const free = freeRuns(r.start, r.end, taken);
    return { ...r, free, free_count: free.reduce((n, [a, b]) => n + b - a + 1, 0) };
  });
}

/** Candidates for an allocation in a range: from `preferred` (if inside) to the end, then from the start. */
export function* candidates(range: PortRange, preferred?: number): Generator<number> {
  const from = preferred !== undefined && preferred >= range.start && preferred <= range.end ? preferred : range.start;
  for (let p = from; p <= range.end; p++) yield p;
  for (let p = range.start; p < from; p++) yield p;
}
