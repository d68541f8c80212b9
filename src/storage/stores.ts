/**
 * All repositories over one Redis client, with every owned resource kind
 * registered for cascade delete. The one place that wires storage together.
 */
import type { Redis } from "ioredis";
import { CertificateRepository } from "./certificate-repository";
import { ClusterNodeRepository } from "./cluster-node-repository";
import { ClusterKeyRepository } from "./cluster-key-repository";
import { DockerServiceRepository } from "./docker-service-repository";
import { OwnershipRegistry } from "./ownership";
import { PortRepository } from "./port-repository";
import { ProxyRepository } from "./proxy-repository";
import { ResourceRepository } from "./resource-repository";
import { RouteRepository } from "./route-repository";
import { ServiceRepository } from "./service-repository";
import { TokenRepository } from "./token-repository";

export interface Stores {
  readonly ownership: OwnershipRegistry;
  readonly tokens: TokenRepository;
  readonly proxies: ProxyRepository;
  readonly routes: RouteRepository;
  readonly certificates: CertificateRepository;
  /** Registered protected resources (`resource:{uri}`). */
  readonly resources: ResourceRepository;
  /** Docker services (`docker_service:{name}`). */
  readonly dockerServices: DockerServiceRepository;
  /** External and internal services, and the `service:url:{name}` they resolve to. */
  readonly services: ServiceRepository;
  /** Host port allocations (`port:{port}`, `service:ports:{service}`). */
  readonly ports: PortRepository;
  /** The cluster registry (`cluster:node:{id}`, `cluster:nodes`). */
  readonly clusterNodes: ClusterNodeRepository;
  /** Cluster API keys (`cluster:keys:*`). */
  readonly clusterKeys: ClusterKeyRepository;
}

export function createStores(redis: Redis): Stores {
  const ownership = new OwnershipRegistry();
  const proxies = new ProxyRepository(redis);
  const routes = new RouteRepository(redis);
  const certificates = new CertificateRepository(redis);
  const resources = new ResourceRepository(redis);
  const ports = new PortRepository(redis);
  ownership.register(proxies.ownedKind());
  ownership.register(routes.ownedKind());
  ownership.register(certificates.ownedKind());
  const dockerServices = new DockerServiceRepository(redis);
  ownership.register(resources.ownedKind());
  ownership.register(dockerServices.ownedKind());
  const services = new ServiceRepository(redis);
  ownership.register(services.ownedKind());
  ownership.register(ports.ownedKind());
  return { ownership, tokens: new TokenRepository(redis, ownership), proxies, routes, certificates, resources, services, ports, dockerServices, clusterNodes: new ClusterNodeRepository(redis), clusterKeys: new ClusterKeyRepository(redis) };
}
