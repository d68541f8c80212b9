/**
 * /api/v1/services — Docker services (spec "Service Management", first slice:
 * create, list, show, start, stop, restart, delete) and their own ports
 * (/{name}/ports: list, add, remove). External services, the unified view and
 * the global port queries are in services.ts and service-ports.ts. Services are owned: a
 * non-admin token sees and changes only its own.
 */
import { Elysia, t } from "elysia";
import type { DockerServices } from "../../services/docker-services";
import type { TokenRepository } from "../../storage/token-repository";
import type { ProxyRepository } from "../../storage/proxy-repository";
import type { RouteRepository } from "../../storage/route-repository";
import { authenticate } from "../caller";
import { refuseWhileUsed } from "./services";

const PortConfigBody = t.Object(
  {
    name: t.String({ description: "Port name, unique in the service: letters, digits, - and _" }),
    host: t.Optional(t.Any({ description: "Host port; checked (not restricted, not the gateway's, not allocated, bindable). Absent: the first free port of the exposed range" })),
    container: t.Any({ description: "The container's port, 1-65535" }),
    bind: t.Optional(t.Any({ description: "127.0.0.1 or 0.0.0.0; default the service's bind_address" })),
    protocol: t.Optional(t.Any({ description: "tcp (default) or udp" })),
    source_token: t.Optional(t.String({ description: "Stored only as its sha256; NOT enforced yet (nothing checks it)" })),
    description: t.Optional(t.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const DockerServiceCreateBody = t.Object(
  {
    service_name: t.String({ minLength: 1, maxLength: 63, description: "A DNS label (lowercase letters, digits, -), unique across Docker and external services; the container is named portcullis-{service_name}" }),
    image: t.String({ minLength: 1, maxLength: 255, description: "An image the engine already has (nothing is pulled)" }),
    internal_port: t.Optional(t.Integer({ minimum: 1, maximum: 65535, description: "The container's port; default: the image's lowest exposed TCP port" })),
    memory_limit: t.Optional(t.String({ maxLength: 32, description: 'Memory limit like "512m" or "1g" (6m to 1t)' })),
    cpu_limit: t.Optional(t.Number({ description: "CPUs, like 1.0 or 0.5 (0.01 to 1024)" })),
    environment: t.Optional(t.Record(t.String(), t.String(), { description: "Environment variables" })),
    command: t.Optional(t.Array(t.String(), { maxItems: 256, description: "Replaces the image's command" })),
    labels: t.Optional(t.Record(t.String(), t.String(), { description: 'Extra container labels (not starting with "portcullis.")' })),
    bind_address: t.Optional(t.String({ description: "Host address the port is published on: 127.0.0.1 (default) or 0.0.0.0; the default bind of port_configs" })),
    expose_ports: t.Optional(t.Boolean({ description: "true: publish internal_port on a host port the allocator picks in the exposed range (port name http); implied by port_configs" })),
    port_configs: t.Optional(
      t.Array(
        PortConfigBody,
        { description: "Ports to allocate and publish exactly on their host port" },
      ),
    ),
  },
  { additionalProperties: false },
);

export function dockerServiceRoutes(deps: { tokens: TokenRepository; services: DockerServices; routes: RouteRepository; proxies: ProxyRepository }) {
  const services = deps.services;
  return new Elysia({ prefix: "/services", tags: ["services"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/", ({ caller }) => services.list(caller), { detail: { summary: "List the Docker services the caller can see" } })
    .post(
      "/",
      async ({ body, caller, set }) => {
        const created = await services.create(caller, body);
        set.status = 201;
        return created;
      },
      {
        body: DockerServiceCreateBody,
        detail: {
          summary: "Create and start a Docker service",
          description:
            "Creates a container labelled portcullis.managed=true and portcullis.service={name}, allocates each of port_configs (or with expose_ports internal_port) through the port allocator and publishes it exactly on its host address and port (otherwise internal_port on an engine-picked port of bind_address), starts it, and stores service:url:{name}. A failure at any step leaves no container, no record and no allocated port; a taken host port is 409 naming it. 503 engine_unavailable when DOCKER_HOST does not answer.",
        },
      },
    )
    .get("/:name", ({ caller, params }) => services.visible(caller, params.name), { detail: { summary: "One Docker service" } })
    .get("/:name/ports", ({ caller, params }) => services.listPorts(caller, params.name), {
      detail: { summary: "The ports allocated to a Docker service (owned like the service: 404 for another token's)" },
    })
    .post(
      "/:name/ports",
      async ({ caller, params, body, set }) => {
        const allocation = await services.addPort(caller, params.name, body);
        set.status = 201;
        return allocation;
      },
      {
        body: PortConfigBody,
        detail: {
          summary: "Add a port to a Docker service",
          description:
            "Allocates the port (409 naming it when it cannot be), then recreates the container with the same settings and all its ports (published ports cannot be added to a container); a running service is started again. If the container cannot be replaced the port is released and the service is unchanged.",
        },
      },
    )
    .put("/:name/ports/:port_name", ({ caller, params, body }) => services.updatePort(caller, params.name, params.port_name, body), {
      body: t.Object(
        {
          bind: t.Optional(t.Any({ description: "127.0.0.1 or 0.0.0.0; a change recreates the container" })),
          description: t.Optional(t.String({ maxLength: 500 })),
          source_token: t.Optional(t.String({ description: 'Stored only as its sha256 ("" removes it); NOT enforced yet' })),
        },
        { additionalProperties: false },
      ),
      detail: { summary: "Change a port's bind address (recreates the container), description or source token" },
    })
    .delete(
      "/:name/ports/:port_name",
      async ({ caller, params }) => {
        const released = await services.removePort(caller, params.name, params.port_name);
        return { released: released.port_name, host_port: released.host_port };
      },
      { detail: { summary: "Remove a port from a Docker service: recreates the container without it, then releases the host port" } },
    )
    .delete(
      "/:name",
      async ({ caller, params, query }) => {
        const force = query.force === "true";
        if (!force) {
          await services.visible(caller, params.name);
          await refuseWhileUsed(deps, caller, params.name);
        }
        const deleted = await services.delete(caller, params.name, force);
        return { deleted: deleted.service_name };
      },
      {
        query: t.Object({ force: t.Optional(t.Union([t.Literal("true"), t.Literal("false")], { description: "Delete even while the container runs or routes and proxies use the service (they then answer 502)" })) }),
        detail: { summary: "Delete a Docker service and its container; 409 while it runs or routes/proxies use it, unless force=true" },
      },
    )
    .post("/:name/start", ({ caller, params }) => services.start(caller, params.name), { detail: { summary: "Start a Docker service's container" } })
    .post("/:name/stop", ({ caller, params }) => services.stop(caller, params.name), { detail: { summary: "Stop a Docker service's container" } })
    .post("/:name/restart", ({ caller, params }) => services.restart(caller, params.name), { detail: { summary: "Restart a Docker service's container" } });
}
