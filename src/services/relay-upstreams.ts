/**
 * What the Docker service manager tells the source-token relay
 * (source-token-relay.ts) through the port records: where each token port's
 * container port answers, and when a port the relay held is free again.
 */
import type { PortAllocation } from "../storage/port-repository";
import type { DockerEngine } from "./docker-engine";
import { hostPortBusyReason } from "./host-port-probe";
import type { PortAllocator } from "./port-allocator";
import { isTokenPort } from "./source-token-check";

/**
 * Records in each token port of the service where its container port answers
 * now (`relay_upstream`): the engine picked a loopback port for it when the
 * container started, and picks another after a recreate or restart. Null
 * while the container does not run.
 */
export async function followRelayUpstreams(engine: DockerEngine, ports: PortAllocator, service: string, containerId: string, internalPort: number): Promise<void> {
  const tokenPorts = (await ports.listForService(service)).filter(isTokenPort);
  if (tokenPorts.length === 0) return;
  const state = await engine.inspect(containerId, internalPort);
  for (const allocation of tokenPorts) {
    const bound = state?.tcpBindings.get(allocation.container_port);
    await ports.setRelayUpstream(allocation, bound ? `${bound.ip === "0.0.0.0" ? "127.0.0.1" : bound.ip}:${bound.port}` : null);
  }
}

/** Waits (at most 3 s) until the relays have let go of a port that stops being a token port, so the engine can publish it. */
export async function untilRelaysLetGo(allocation: PortAllocation): Promise<void> {
  for (let i = 0; i < 60 && (await hostPortBusyReason(allocation.host_port, allocation.bind_address, "tcp")); i++) await Bun.sleep(50);
}
