/**
 * The Elysia application behind API_PORT and the API hostnames: /health,
 * /healthz, /api/v1/*, the OpenAPI document and the /docs page. Paths answer
 * with or without a trailing slash; nothing redirects.
 */
import { Elysia } from "elysia";
import { openapi } from "@elysiajs/openapi";
import type { Redis } from "ioredis";
import type { Logger } from "../core/logger";
import { VERSION } from "../core/version";
import type { CertificateManager } from "../certificates/certificate-manager";
import type { OAuthServerContext } from "../auth/server/context";
import type { GitHubApps } from "../auth/upstream/github-apps";
import type { CertificateRepository } from "../storage/certificate-repository";
import type { ProxyRepository } from "../storage/proxy-repository";
import type { PortRepository } from "../storage/port-repository";
import type { ResourceRepository } from "../storage/resource-repository";
import type { GatewayPort } from "../services/port-ranges";
import type { RouteRepository } from "../storage/route-repository";
import type { ServiceRepository } from "../storage/service-repository";
import type { TokenRepository } from "../storage/token-repository";
import type { ClusterKeyRepository } from "../storage/cluster-key-repository";
import { parseClusterSettings, type ClusterSettings } from "../core/cluster-config";
import { ApiCredentials, registerCredentials } from "./credentials";
import { clusterKeyRoutes } from "./routes/cluster-keys";
import { DOCS_INIT_SCRIPT, renderDocsPage, type OpenApiDocument } from "./docs-page";
import { DOCS_ASSETS } from "./docs-assets";
import { completeOpenApiDocument, type OpenApiPaths, type RouteWithBody } from "./openapi-completion";
import { refuseApiBody } from "./body-limit";
import { markOwn } from "../core/own-response";
import { isValidHostHeader } from "../dispatcher/host";
import { errorHandler } from "./error-handler";
import { requestGuard } from "./request-guard";
import { certificateRoutes } from "./routes/certificates";
import { healthRoutes } from "./routes/health";
import type { HealthSources } from "./health-details";
import { metricsRoutes } from "./routes/metrics";
import type { GatewayMetrics } from "../metrics/gateway-metrics";
import { oauthAdminRoutes } from "./routes/oauth-admin";
import { oauthClientImportRoutes } from "./routes/oauth-client-import";
import { oauthStatusRoutes } from "./routes/oauth-status";
import { proxyAuthRoutes } from "./routes/proxy-auth";
import { proxyMcpPolicyRoutes } from "./routes/proxy-mcp-policy";
import { proxyOAuthServerRoutes } from "./routes/proxy-oauth-server";
import { proxyResourceRoutes } from "./routes/proxy-resource";
import { resourceRoutes } from "./routes/resources";
import { servicePortRoutes } from "./routes/service-ports";
import { proxyGitHubOAuthRoutes } from "./routes/proxy-github-oauth";
import { proxyTargetRoutes } from "./routes/proxy-targets";
import { routeRoutes } from "./routes/routes";
import { serviceRoutes } from "./routes/services";
import { tokenRoutes } from "./routes/tokens";
import { dockerServiceRoutes } from "./routes/docker-services";
import type { DockerServices } from "../services/docker-services";
import { logRoutes } from "./routes/logs";
import { logFollowRoutes } from "./routes/logs-follow";
import { rememberServer } from "./long-lived";
import { audited, type AuditStores } from "./audit-hook";
import { rememberPeer, type PeerSource } from "./client-address";
import type { WorkflowTickets } from "../orchestration/workflow-tickets";
import type { AuditLog } from "../consumers/audit/audit-log";
import { oauthLogRoutes } from "./routes/logs-oauth";
import { auditLogRoutes } from "./routes/logs-audit";
import { clusterRoutes } from "./routes/cluster";
import type { ClusterNodeRepository } from "../storage/cluster-node-repository";
import { isWrite, untilAppliedHere } from "./applied-here";

export interface ApiDependencies {
  readonly redis: Redis;
  readonly tokens: TokenRepository;
  /** Cluster API keys created through /api/v1/cluster/keys. */
  readonly clusterKeys: ClusterKeyRepository;
  /** CLUSTER_NAME, CLUSTER_API_KEY and the registry's thresholds (default: cluster "default", no default key, a node down after 15 s without a heartbeat). */
  readonly cluster?: ClusterSettings;
  readonly proxies: ProxyRepository;
  readonly routes: RouteRepository;
  readonly certificates: CertificateRepository;
  /** Registered protected resources (/api/v1/resources). */
  readonly resources: ResourceRepository;
  /** External and internal services (/api/v1/services/external, /api/v1/services/unified). */
  readonly services: ServiceRepository;
  /** Host port allocations (/api/v1/services/ports). */
  readonly ports: PortRepository;
  /** The cluster registry (/api/v1/cluster/nodes). */
  readonly clusterNodes: ClusterNodeRepository;
  /** NODE_ID: which node answers /health. */
  readonly nodeId?: string;
  /** The ports the running gateway listens on (HTTP_PORT, HTTPS_PORT, API_PORT, …): never allocatable. */
  readonly gatewayPorts?: () => readonly GatewayPort[];
  readonly certificateManager: CertificateManager;
  /** Answers from the workflow consumers: proxy creation waits for its certificate work (orchestration/workflow-tickets.ts). */
  readonly workflowTickets: WorkflowTickets;
  /** Per-proxy GitHub OAuth apps: seals their client secrets before they are stored. */
  readonly githubApps: GitHubApps;
  /** The authorization server (createAuthorizationServer().context), for /api/v1/oauth/* and proxies' oauth-server settings. */
  readonly oauth: OAuthServerContext;
  /** Hostnames the API answers on HTTP_PORT; no proxy may take them. */
  readonly apiHostnames: readonly string[];
  readonly log: Logger;
  readonly startedAt: number;
  /** Aborted when the gateway begins to shut down (long-lived answers such as the live tail end then). */
  readonly stopping?: AbortSignal;
  /** The registry GET /metrics renders; without it /metrics is 404. */
  readonly metrics?: GatewayMetrics;
  /** The audit log (GET /api/v1/logs/audit) and AUDIT_RETENTION_DAYS; without it the endpoint is absent. */
  readonly audit?: { readonly log: AuditLog; readonly retentionDays: number };
  /** BASE_DOMAIN: POST /services/{name}/proxy creates {name}.{BASE_DOMAIN} by default (default "localhost", as in the config). */
  readonly baseDomain?: string;
  /** What /health reports besides Redis (certificates, HTTPS listener, renewal, event-stream lag); without it only the basics. */
  readonly health?: HealthSources;
  /** Docker services on DOCKER_HOST (/api/v1/services); without it the endpoints are absent. */
  readonly dockerServiceManager?: DockerServices;
}

export const OPENAPI_PATH = "/api/v1/openapi.json";
const DEFAULT_CLUSTER: ClusterSettings = Object.freeze(parseClusterSettings({ read: () => undefined }, []));

export function createApiApp(deps: ApiDependencies) {
  // Set once the app exists: the document is completed from the app's own routes.
  let routes: () => readonly RouteWithBody[] = () => [];
  const cluster = deps.cluster ?? DEFAULT_CLUSTER;
  // Every authenticate(request, deps.tokens) also accepts cluster keys from here on (credentials.ts).
  registerCredentials(deps.tokens, new ApiCredentials(deps.tokens, deps.clusterKeys, cluster));
  // normalize: false makes unknown body fields a 422 instead of silently dropping them.
  const app = new Elysia({ strictPath: false, normalize: false })
    .use(errorHandler(deps.log))
    .use(requestGuard(deps.tokens))
    // A write answers once this node serves it (applied-here.ts); without an edge (the API alone) there is nothing to wait for.
    .onAfterHandle({ as: "global" }, async ({ request }) => {
      if (deps.health && isWrite(request.method)) await untilAppliedHere(deps.redis, deps.health.appliedEventId);
    })
    // The plugin's document, with what it leaves out (request bodies, responses) put back.
    .onAfterHandle({ as: "global" }, ({ path, response }) => (path === OPENAPI_PATH ? completeOpenApiDocument(response as OpenApiPaths, routes()) : undefined))
    .use(
      openapi({
        provider: null,
        specPath: OPENAPI_PATH,
        documentation: {
          info: {
            title: "Portcullis",
            version: VERSION,
            description: "HTTPS gateway with OAuth 2.1. Authenticate with the header Authorization: Bearer acm_… (an API token) or pck_… (a cluster API key); what each role may call is in docs/permissions.md.",
          },
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
          security: [{ bearer: [] }],
        },
      }),
    )
    .use(healthRoutes(deps.redis, deps.startedAt, deps.health, deps.nodeId))
    .use(deps.metrics ? metricsRoutes(deps.metrics) : new Elysia())
    .group("/api/v1", (api) =>
      api
        .use(tokenRoutes(deps))
        .use(clusterKeyRoutes({ tokens: deps.tokens, clusterKeys: deps.clusterKeys, cluster }))
        .use(proxyGitHubOAuthRoutes(deps))
        .use(proxyOAuthServerRoutes(deps))
        .use(proxyAuthRoutes(deps))
        .use(proxyResourceRoutes(deps))
        .use(proxyMcpPolicyRoutes(deps))
        .use(proxyTargetRoutes(deps))
        .use(routeRoutes({ ...deps, authHostnames: deps.oauth.settings.authHostnames }))
        .use(certificateRoutes(deps))
        .use(oauthStatusRoutes(deps))
        .use(oauthAdminRoutes(deps))
        .use(oauthClientImportRoutes(deps))
        .use(resourceRoutes(deps))
        .use(serviceRoutes(deps))
        .use(servicePortRoutes(deps))
        .use(
          deps.dockerServiceManager
            ? dockerServiceRoutes({ tokens: deps.tokens, services: deps.dockerServiceManager, redis: deps.redis, proxies: deps.proxies, certificates: deps.certificates, certificateManager: deps.certificateManager, workflowTickets: deps.workflowTickets, apiHostnames: deps.apiHostnames, oauth: deps.oauth, baseDomain: deps.baseDomain ?? "localhost" })
            : new Elysia(),
        )
        .use(oauthLogRoutes(deps))
        .use(deps.audit ? auditLogRoutes({ ...deps, audit: deps.audit.log, retentionDays: deps.audit.retentionDays }) : new Elysia())
        .use(logRoutes(deps))
        .use(logFollowRoutes(deps))
        .use(clusterRoutes({ ...deps, cluster })),
    );

  routes = () => app.routes as unknown as readonly RouteWithBody[];
  return app
    .get(
      "/docs",
      async () => {
        const spec = await app.handle(new Request(`http://localhost${OPENAPI_PATH}`)).then((r) => r.json() as Promise<OpenApiDocument>);
        return new Response(renderDocsPage(spec, OPENAPI_PATH), { headers: { "content-type": "text/html; charset=utf-8" } });
      },
      { detail: { hide: true } },
    )
    .get("/docs/init.js", () => new Response(DOCS_INIT_SCRIPT, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } }), { detail: { hide: true } })
    .get(
      "/docs/:asset",
      ({ params }) => {
        const asset = Object.hasOwn(DOCS_ASSETS, params.asset) ? DOCS_ASSETS[params.asset] : undefined;
        if (!asset) return Response.json({ error: "not_found", detail: `no file ${JSON.stringify(params.asset)} under /docs/` }, { status: 404 });
        // The files change only with the binary; an upgrade's restart brings new ones under the same names, so a day's cache at most.
        return new Response(Bun.file(asset.path), { headers: { "content-type": asset.contentType, "cache-control": "public, max-age=86400" } });
      },
      { detail: { hide: true } },
    );
}

export type ApiApp = ReturnType<typeof createApiApp>;

/**
 * The API's entry point for both listeners: the Host (Elysia builds a URL
 * from it), the body limit, then the app; every answer is marked as ours.
 */
export function apiFetch(
  app: ApiApp,
  audit?: { readonly log: AuditLog; readonly stores: AuditStores },
): (request: Request, server?: Parameters<typeof rememberServer>[1] & PeerSource) => Response | Promise<Response> {
  const handle = (request: Request) => Promise.resolve(app.fetch(request));
  // Every write under /api/v1 is audited (audit-hook.ts).
  const run = audit ? audited(handle, audit.log, audit.stores) : handle;
  return (request, server) => {
    rememberServer(request, server);
    rememberPeer(request, server);
    if (!isValidHostHeader(request.headers.get("host"))) return markOwn(Response.json(BAD_HOST, { status: 400 }));
    const refused = refuseApiBody(request);
    return refused ? markOwn(refused) : run(request).then(markOwn);
  };
}

const BAD_HOST = { error: "invalid_request", detail: "the Host header is missing, repeated or malformed" };
