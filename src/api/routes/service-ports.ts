/**
 * /api/v1/services/ports — the global port queries (001 "Global Port Query
 * Endpoints"): every allocation (the admin sees all, other tokens their own),
 * the free ports per spec range, and whether one port could be allocated now.
 * The per-service port endpoints come with Docker services.
 */
import { Elysia, t } from "elysia";
import { badParameter } from "../../core/errors";
import { PortAllocator } from "../../services/port-allocator";
import { availability, isBindAddress, isPortNumber, RESTRICTED_PORTS, unusablePorts, type GatewayPort } from "../../services/port-ranges";
import type { PortRepository } from "../../storage/port-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, canSee } from "../caller";

export interface ServicePortDependencies {
  tokens: TokenRepository;
  ports: PortRepository;
  /** The ports the running gateway listens on; never allocatable. */
  gatewayPorts?: () => readonly GatewayPort[];
}

const CheckBody = t.Object(
  {
    port: t.Optional(t.Any({ description: "Host port, 1-65535 (required)" })),
    bind_address: t.Optional(t.Any({ description: "127.0.0.1 (default) or 0.0.0.0" })),
    protocol: t.Optional(t.Any({ description: "tcp (default) or udp" })),
  },
  { additionalProperties: false },
);

const ListQuery = t.Object({
  available_only: t.Optional(t.String({ description: "true: answer as GET /services/ports/available does" })),
});

export function servicePortRoutes(deps: ServicePortDependencies) {
  const gatewayPorts = deps.gatewayPorts ?? (() => []);
  const allocator = new PortAllocator(deps.ports, gatewayPorts);

  const available = async () => ({
    ranges: availability(await deps.ports.allocatedPorts(), gatewayPorts()),
    restricted: [...RESTRICTED_PORTS].map(([port, service]) => ({ port, service })),
    gateway_ports: gatewayPorts(),
    unusable: unusablePorts(gatewayPorts()),
  });

  return new Elysia({ prefix: "/services/ports", tags: ["services"] })
    .derive(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get(
      "/",
      async ({ caller, query }) => {
        const flag = query.available_only;
        if (flag !== undefined && !["true", "false", "1", "0", ""].includes(flag)) throw badParameter(`available_only: expected true or false, not ${JSON.stringify(flag.slice(0, 40))}`);
        if (flag === "true" || flag === "1" || flag === "") return available();
        return (await deps.ports.list()).filter((a) => canSee(caller, a.owner_token_hash));
      },
      { query: ListQuery, detail: { summary: "List port allocations (the admin sees all, other tokens their own); ?available_only=true lists free ranges instead" } },
    )
    .get("/available", available, {
      detail: { summary: "Free ports per range (internal_http, internal_https, exposed) as [first, last] runs, leaving out restricted, gateway and allocated ports" },
    })
    .post(
      "/check",
      async ({ body, caller }) => {
        if (!isPortNumber(body.port)) throw badParameter(`port: expected an integer 1-65535, not ${shown(body.port)}`);
        const bind = body.bind_address ?? "127.0.0.1";
        if (!isBindAddress(bind)) throw badParameter(`bind_address: expected 127.0.0.1 or 0.0.0.0, not ${shown(bind)}`);
        const protocol = body.protocol ?? "tcp";
        if (protocol !== "tcp" && protocol !== "udp") throw badParameter(`protocol: expected tcp or udp, not ${shown(protocol)}`);
        return allocator.check(body.port, bind, protocol, caller);
      },
      {
        body: CheckBody,
        detail: { summary: "Whether a host port could be allocated now: not restricted, not the gateway's, not allocated, and bindable on the host" },
      },
    );
}

/** A rejected value, short enough for an error message. */
function shown(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 60);
}
