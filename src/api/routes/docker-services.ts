/**
 * /api/v1/services — Docker services (spec "Service Management": create, list,
 * show, update, start, stop, restart, delete, logs, stats, proxy, cleanup) and their own ports
 * (/{name}/ports: list, add, remove). External services, the unified view and
 * the global port queries are in services.ts and service-ports.ts. Services are owned: a
 * non-admin token sees and changes only its own.
 */
import { Elysia, t } from "elysia";
import type { DockerServices } from "../../services/docker-services";
import type { Redis } from "ioredis";
import { authenticate, type Caller } from "../caller";
import { badParameter, forbidden } from "../../core/errors";
import { MAX_LOG_LINES } from "../../services/docker-services";
import { DockerServiceCreateBody, DockerServiceUpdateBody, PortConfigBody } from "../schemas/docker-service";
import type { LogLine } from "../../services/docker-engine";
import { keepOpen } from "../long-lived";
import { inUseGuard, precheckInUse, retriedDelete } from "../service-in-use";
import { createProxyTarget, proxyView, type ProxyCreateDeps } from "./proxy-targets";


const DEFAULT_LOG_LINES = 100;
const KEEP_ALIVE_MS = 15_000;

function parseLines(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_LOG_LINES;
  if (!/^\d+$/.test(raw)) throw badParameter(`lines: ${JSON.stringify(raw.slice(0, 40))} is not a whole number`);
  const lines = Number(raw);
  if (lines < 1 || lines > MAX_LOG_LINES) throw badParameter(`lines: ${lines} is out of range; use from 1 to ${MAX_LOG_LINES}`);
  return lines;
}

function parseFlag(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === "" || raw === "false") return false;
  if (raw === "true") return true;
  throw badParameter(`${name}: expected true or false, got ${JSON.stringify(raw.slice(0, 40))}`);
}

/** SSE: one `event: log` per line, data {stream, line}; ends when the client goes away or the container's output ends. */
async function followLogs(services: DockerServices, caller: Caller, name: string, lines: number, timestamps: boolean, request: Request): Promise<Response> {
  const encoder = new TextEncoder();
  let closed = false;
  let engineDone = false;
  let closeEngine = () => {};
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | null = null;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  // Lines the engine sends before the response stream starts wait here.
  const queued: string[] = [];
  const endResponse = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    closeEngine();
    try {
      controllerRef?.close();
    } catch {
      // Already closed by the client.
    }
  };
  const write = (text: string) => {
    if (closed) return;
    if (!controllerRef) {
      queued.push(text);
      return;
    }
    try {
      controllerRef.enqueue(encoder.encode(text));
    } catch {
      endResponse();
    }
  };
  const onLine = (line: LogLine) => write(`event: log\ndata: ${JSON.stringify(line)}\n\n`);
  const onEngineEnd = () => {
    engineDone = true;
    if (controllerRef) endResponse();
  };
  // Errors (not found, not created yet, engine down) answer as JSON before any stream starts.
  closeEngine = await services.followLogs(caller, name, lines, timestamps, onLine, onEngineEnd);
  keepOpen(request);
  request.signal.addEventListener("abort", endResponse);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controllerRef = controller;
      controller.enqueue(encoder.encode(": following\n\n"));
      for (const text of queued.splice(0)) controller.enqueue(encoder.encode(text));
      if (engineDone) endResponse();
      else keepAlive = setInterval(() => write(": keep-alive\n\n"), KEEP_ALIVE_MS);
    },
    cancel: endResponse,
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" } });
}

const ServiceProxyBody = t.Object(
  {
    hostname: t.Optional(t.String({ minLength: 1, maxLength: 253, description: "The proxy's hostname; default {name}.{BASE_DOMAIN}" })),
    enable_https: t.Optional(t.Boolean({ description: "Serve the proxy on HTTPS too (default true, as for any proxy)" })),
  },
  { additionalProperties: false },
);

export function dockerServiceRoutes(deps: ProxyCreateDeps & { services: DockerServices; redis: Redis; baseDomain: string }) {
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
            "From image, or from dockerfile_path (exactly one; both or neither is 422): a Dockerfile is first built into portcullis/{name}:{unique}, labelled like the container; a failed build is 400 build_failed and leaves nothing. Creates a container labelled portcullis.managed=true and portcullis.service={name}, allocates each of port_configs (or with expose_ports internal_port) through the port allocator and publishes it exactly on its host address and port (otherwise internal_port on an engine-picked port of bind_address), starts it, and stores service:url:{name}. A failure at any step leaves no container, no record and no allocated port; a taken host port is 409 naming it. 503 engine_unavailable when DOCKER_HOST does not answer.",
        },
      },
    )
    .post(
      "/cleanup",
      ({ caller }) => {
        if (!caller.isAdmin) throw forbidden("cleanup needs an admin token");
        return services.cleanup();
      },
      {
        detail: {
          summary: "Remove orphaned Docker service containers, records and built images (admin)",
          description:
            "Removes containers labelled portcullis.managed=true that no service record owns, service records whose container the engine no longer has, and images built from a Dockerfile (labelled portcullis.managed=true) that no service runs and that are older than ten minutes (a build finished after its create gave up), and releases host ports allocated to services no record names. Containers and images without the label are never touched; services still being created are left alone. Answers {removed_containers: [{id, name, service}], removed_records: [name], removed_images: [image], released_ports: [port]}.",
        },
      },
    )
    .get(
      "/:name/logs",
      async ({ caller, params, query, request }) => {
        const lines = parseLines(query.lines);
        const timestamps = parseFlag("timestamps", query.timestamps);
        if (parseFlag("follow", query.follow)) return followLogs(services, caller, params.name, lines, timestamps, request);
        const logs = await services.logs(caller, params.name, lines, timestamps);
        return { service_name: params.name, lines: logs };
      },
      {
        query: t.Object({
          lines: t.Optional(t.String({ description: `How many of the last lines (default ${DEFAULT_LOG_LINES}, 1 to ${MAX_LOG_LINES})` })),
          timestamps: t.Optional(t.String({ description: "true: each line starts with the engine's RFC 3339 timestamp" })),
          follow: t.Optional(t.String({ description: "true: Server-Sent Events, one `event: log` per line (data {stream, line}), until the client goes away; capped per node (SERVICE_LOG_FOLLOWS_MAX) and per token (SERVICE_LOG_FOLLOWS_PER_TOKEN): 429 with Retry-After past either" })),
        }),
        detail: {
          summary: "A Docker service's container output (stdout and stderr)",
          description: "Answers {service_name, lines: [{stream: stdout|stderr, line}]}; with follow=true a text/event-stream instead.",
        },
      },
    )
    .get("/:name/stats", ({ caller, params }) => services.stats(caller, params.name), {
      detail: {
        summary: "One resource sample of a running Docker service",
        description:
          "cpu_percent (cpu delta / system delta × online CPUs × 100), memory usage/limit/percent (page cache excluded), network rx/tx bytes summed over interfaces, block read/write bytes, pids. 409 when the container is not running.",
      },
    })
    .get("/:name", ({ caller, params }) => services.visible(caller, params.name), { detail: { summary: "One Docker service" } })
    .put("/:name", ({ caller, params, body }) => services.update(caller, params.name, body), {
      body: DockerServiceUpdateBody,
      detail: {
        summary: "Update a Docker service: recreate its container with the new settings",
        description:
          "Any of image, internal_port, memory_limit, cpu_limit, environment, command, labels, networks, bind_address; absent fields keep their value (environment, labels, networks and command are replaced whole; null removes a limit or the command). Everything is checked first, as for a create (400 invalid_parameter or 422 naming the field, 400 image_not_found, 400 network_not_found). Then a new container is made with the new settings and the service's allocated ports and takes the old one's place: the container id changes and it restarts; a running service is started again, a stopped one stays stopped. service:url:{name} follows the new address, so routes and proxies to service:{name} keep working unchanged. If the new container cannot be made, the old one is untouched and the record unchanged; if it cannot start, a container with the previous settings is put back and the error answered. 409 while another update or port change of the service runs. Owned like the service (404 for another token's). Answers the updated record.",
      },
    })
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
          source_token: t.Optional(t.String({ description: 'A new token applies within 100 ms; adding one to a port without, or removing it with "", recreates the container (the gateway or the engine publishes the port). Stored only as its sha256' })),
        },
        { additionalProperties: false },
      ),
      detail: { summary: "Change a port's bind address or whether it has a source token (both recreate the container), its description or its source token" },
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
        const record = await services.visible(caller, params.name);
        // delete_proxy: the caller's own proxies of target_url service:{name} go with the service, in the record's transaction.
        const options = { force, deleteOwnProxies: query.delete_proxy === "true" };
        // Refused early, before the engine is asked anything; decided again atomically when the record goes.
        await precheckInUse(deps.redis, caller, record.service_name, options);
        const deletedProxies: string[] = [];
        const guard = inUseGuard(caller, record.service_name, options, deletedProxies);
        const deleted = await retriedDelete(record.service_name, () => services.delete(caller, record.service_name, force, guard));
        return query.delete_proxy === "true" ? { deleted: deleted.service_name, deleted_proxies: deletedProxies } : { deleted: deleted.service_name };
      },
      {
        query: t.Object({
          force: t.Optional(t.Union([t.Literal("true"), t.Literal("false")], { description: "Delete even while the container runs or routes and proxies use the service (they then answer 502)" })),
          delete_proxy: t.Optional(t.Union([t.Literal("true"), t.Literal("false")], { description: "Also delete the caller's own proxies whose target_url is service:{name} (they then do not count as users)" })),
        }),
        detail: {
          summary: "Delete a Docker service and its container; 409 while it runs or routes/proxies use it, unless force=true; delete_proxy=true also deletes the caller's proxies to it",
          description:
            "The in-use check runs inside the record's delete transaction (WATCH on the route and proxy indexes and records), so a route or proxy stored meanwhile refuses the delete. The record goes first, then the container; if the engine fails after the record went, the container stays labelled and POST /services/cleanup removes it. A service built from a Dockerfile also loses its built images (those labelled portcullis.service={name}).",
        },
      },
    )
    .post(
      "/:name/proxy",
      async ({ caller, params, body, set }) => {
        const record = await services.visible(caller, params.name);
        const hostname = body.hostname ?? `${record.service_name}.${deps.baseDomain}`;
        const proxy = await createProxyTarget(deps, caller, {
          hostname,
          target_url: `service:${record.service_name}`,
          ...(body.enable_https !== undefined ? { enable_https: body.enable_https } : {}),
        });
        set.status = 201;
        return proxyView(proxy);
      },
      {
        body: ServiceProxyBody,
        detail: {
          summary: "Create a proxy to a Docker service",
          description:
            "Creates a proxy {name}.{BASE_DOMAIN} (or hostname) owned by the caller, with target_url service:{name}: it follows the container's current address. 409 if a proxy for the hostname exists. Answers the proxy as GET /proxy/targets/{hostname} does.",
        },
      },
    )
    .post("/:name/start", ({ caller, params }) => services.start(caller, params.name), { detail: { summary: "Start a Docker service's container" } })
    .post("/:name/stop", ({ caller, params }) => services.stop(caller, params.name), { detail: { summary: "Stop a Docker service's container" } })
    .post("/:name/restart", ({ caller, params }) => services.restart(caller, params.name), { detail: { summary: "Restart a Docker service's container" } });
}
