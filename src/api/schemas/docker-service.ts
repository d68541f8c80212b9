/** The request bodies of /api/v1/services (Docker services): create, update, and a port of a service. */
import { t } from "elysia";
import { MAX_NETWORKS } from "../../services/docker-service-settings";

export const PortConfigBody = t.Object(
  {
    name: t.String({ description: "Port name, unique in the service: letters, digits, - and _" }),
    host: t.Optional(t.Any({ description: "Host port; checked (not restricted, not the gateway's, not allocated, bindable). Absent: the first free port of the exposed range" })),
    container: t.Any({ description: "The container's port, 1-65535" }),
    bind: t.Optional(t.Any({ description: "127.0.0.1 or 0.0.0.0; default the service's bind_address" })),
    protocol: t.Optional(t.Any({ description: "tcp (default) or udp" })),
    source_token: t.Optional(t.String({ description: "tcp only (udp: 400). The gateway then binds the host port itself and relays HTTP requests that carry the token (Authorization: Bearer or X-Source-Token) to the container; others get 401. Stored only as its sha256" })),
    description: t.Optional(t.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export const DockerServiceCreateBody = t.Object(
  {
    service_name: t.String({ minLength: 1, maxLength: 63, description: "A DNS label (lowercase letters, digits, -), unique across Docker and external services; the container is named portcullis-{service_name}" }),
    image: t.Optional(t.String({ minLength: 1, maxLength: 255, description: "An image the engine already has (nothing is pulled). Exactly one of image and dockerfile_path" })),
    dockerfile_path: t.Optional(
      t.String({
        minLength: 1,
        maxLength: 1024,
        description:
          "A Dockerfile inside the gateway's DOCKER_BUILD_DIR (relative to it, like ./dockerfiles/app.Dockerfile); its directory is the build context. The image is built (tagged portcullis/{service_name}:{unique}) and the service created from it. 400 when DOCKER_BUILD_DIR is unset or the path (after symbolic links) leaves it; 413 when the context passes DOCKER_BUILD_CONTEXT_LIMIT; 400 build_failed with the engine's last lines when the build fails or passes DOCKER_BUILD_TIMEOUT",
      }),
    ),
    internal_port: t.Optional(t.Integer({ minimum: 1, maximum: 65535, description: "The container's port; default: the image's lowest exposed TCP port" })),
    memory_limit: t.Optional(t.String({ maxLength: 32, description: 'Memory limit like "512m" or "1g" (6m to 1t)' })),
    cpu_limit: t.Optional(t.Number({ description: "CPUs, like 1.0 or 0.5 (0.01 to 1024)" })),
    environment: t.Optional(t.Record(t.String(), t.String(), { description: "Environment variables" })),
    command: t.Optional(t.Array(t.String(), { maxItems: 256, description: "Replaces the image's command" })),
    labels: t.Optional(t.Record(t.String(), t.String(), { description: 'Extra container labels (not starting with "portcullis.")' })),
    bind_address: t.Optional(t.String({ description: "Host address the port is published on: 127.0.0.1 (default) or 0.0.0.0; the default bind of port_configs" })),
    networks: t.Optional(t.Array(t.String(), { maxItems: MAX_NETWORKS, description: "Engine networks the container joins besides the engine's default one (which carries its published ports); each must exist (400 network_not_found); host and none are refused" })),
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

/** Every field optional; an absent one keeps the service's value, null removes a limit or the command. */
export const DockerServiceUpdateBody = t.Object(
  {
    service_name: t.Optional(t.String({ description: "Must equal the path's name if given (a service is not renamed)" })),
    image: t.Optional(t.String({ minLength: 1, maxLength: 255, description: "An image the engine already has (nothing is pulled); internal_port stays unless given" })),
    internal_port: t.Optional(t.Integer({ minimum: 1, maximum: 65535, description: "The container's port the service's url points at" })),
    memory_limit: t.Optional(t.Nullable(t.String({ maxLength: 32, description: 'Like "512m" (6m to 1t); null removes the limit' }))),
    cpu_limit: t.Optional(t.Nullable(t.Number({ description: "CPUs (0.01 to 1024); null removes the limit" }))),
    environment: t.Optional(t.Record(t.String(), t.String(), { description: "Replaces the whole environment" })),
    command: t.Optional(t.Nullable(t.Array(t.String(), { maxItems: 256, description: "Replaces the command; null: the image's own" }))),
    labels: t.Optional(t.Record(t.String(), t.String(), { description: 'Replaces the extra labels (not starting with "portcullis.")' })),
    networks: t.Optional(t.Array(t.String(), { maxItems: MAX_NETWORKS, description: "Replaces the networks joined besides the default one; each must exist" })),
    bind_address: t.Optional(t.String({ description: "127.0.0.1 or 0.0.0.0: where internal_port is published when no allocated port covers it (allocated ports keep their own bind)" })),
  },
  { additionalProperties: false },
);
