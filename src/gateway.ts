/**
 * `portcullis serve`: composes storage, the admin token, the API and the
 * listeners, and takes them down again in reverse order.
 */
import type { Redis } from "ioredis";
import type { Config } from "./core/config";
import type { Logger } from "./core/logger";
import { BUILD_COMMIT, VERSION } from "./core/version";
import { ensureAdminToken } from "./api/admin-token-bootstrap";
import { apiFetch, createApiApp } from "./api/app";
import { createAuthorizationServer } from "./auth/authorization-server";
import { createEdgeSignIn } from "./auth/edge/edge-sign-in";
import { LiveScopeCatalog } from "./auth/scopes/scope-catalog";
import { MAX_SUPPORTED_SCOPES } from "./auth/scopes/scope-syntax";
import { loadSecretsKey } from "./core/secret-box";
import { CertificateManager } from "./certificates/certificate-manager";
import { AddressCertificate } from "./certificates/address-certificate";
import { LiveCertificates, SELF_SIGNED_NAME } from "./certificates/live-certificates";
import { isPubliclyTrusted } from "./certificates/public-trust";
import type { HealthSources } from "./api/health-details";
import { startHttpEdge } from "./dispatcher/edge";
import { startRawHttpEdge } from "./dispatcher/raw-edge/listener";
import { startHttpsEdge, type HttpsEdge } from "./dispatcher/https-edge";
import { ClientRegistry } from "../native-tls/relay";
import { relayedClientIdentity, startProxyProtocolHttp, startProxyProtocolPassthrough } from "./dispatcher/proxy-protocol";
import { listenOrExplain, SERVE_DEFAULTS } from "./dispatcher/listen";
import { afterPipelinedRequestsSeen } from "./dispatcher/pipelining";
import { drainableServer, shutDownListeners, type DrainableListener } from "./dispatcher/shutdown";
import { LiveConfig } from "./dispatcher/live-config";
import { ClusterRateCounters } from "./mcp/rate-limit/cluster-counters";
import { rateLimitGates } from "./mcp/rate-limit/rate-limit-gate";
import { McpSessionAffinity } from "./mcp/session-affinity";
import { loadMcpSessionKey } from "./storage/mcp-session-key";
import { createForwardingEngine } from "./proxies";
import { openGatewayStorage, workerStorage } from "./storage/gateway-storage";
import { connectRedis, describe, waitUntilReady } from "./storage/redis-connection";
import type { WorkerRole } from "./workers/worker-env";
import { createStores } from "./storage/stores";
import { DockerEngine } from "./services/docker-engine";
import { DockerServices } from "./services/docker-services";
import { ImageBuilder } from "./services/image-builder";
import { LogFollowSlots } from "./services/log-follow-slots";
import { PortAllocator } from "./services/port-allocator";
import { SourceTokenRelay } from "./services/source-token-relay";
import { OAuthEventRecorder } from "./consumers/oauth-events/recorder";
import { AuditLog } from "./consumers/audit/audit-log";
import { GatewayMetrics } from "./metrics/gateway-metrics";
import { recordMetrics } from "./metrics/record-metrics";
import { RequestLogWriter } from "./consumers/request-log/writer";
import { connectNativeRedis, ioredisCommandConnection } from "./storage/native-redis";
import { AccessLog } from "./consumers/access-log";
import { startMetricsListener } from "./metrics/metrics-listener";
import { ClusterRegistry, type NodeListener } from "./orchestration/cluster-registry";
import { WorkflowConsumer } from "./orchestration/workflow-consumer";
import { WorkflowTickets } from "./orchestration/workflow-tickets";
import { proxyCertificateHandler } from "./certificates/proxy-certificate-workflow";
import type { GatewayPort } from "./services/port-ranges";

/** How long shutdown waits for queued request records to reach Redis, after the listeners have drained. */
const RECORDS_FLUSH_MS = 5_000;

export interface Gateway {
  readonly apiPort: number;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** PROXY_PROTOCOL_PORT as bound; 0 when it is off. (Every port here is the bound one, also when the setting was 0/any.) */
  readonly proxyProtocolPort: number;
  /** METRICS_PORT as bound; 0 when it is off. */
  readonly metricsPort: number;
  /** True while a TLS server from before the last certificate change may still accept a connection. */
  readonly httpsDraining: boolean;
  readonly redis: Redis;
  stop(): Promise<void>;
}

/**
 * `worker`: this process is one of a supervisor's workers (src/workers/): the
 * supervisor holds the data dir and runs the embedded Redis and the admin-token
 * bootstrap; the listeners share their ports with the other workers (SO_REUSEPORT).
 */
export async function startGateway(config: Config, log: Logger, worker: WorkerRole | null = null): Promise<Gateway> {
  const startedAt = Date.now();
  const storage = worker ? workerStorage(config, worker.embeddedRedis) : await openGatewayStorage(config, log);
  const target = storage.target;
  // Without a supervisor a second gateway on the same port is refused; workers share theirs on purpose.
  const reusePort = worker !== null;

  const listeners: DrainableListener[] = [];
  const redis = connectRedis(target, log);
  // First: the modules below count into it as they work.
  const metrics = new GatewayMetrics(redis);
  const engine = createForwardingEngine({
    connectTimeoutMs: config.proxyConnectTimeoutMs,
    requestTimeoutMs: config.proxyRequestTimeoutMs,
    streams: metrics.streams,
  });
  const stores = createStores(redis);
  // Docker services: the engine is asked only when a service is created or changed.
  // Their ports go through the allocator, which never hands out the gateway's own listeners (ownPorts, set below).
  // Images built from a Dockerfile read only inside DOCKER_BUILD_DIR, never the data directory (services/build-context.ts).
  const imageBuilder = new ImageBuilder(config.docker, config.dataDir, log);
  const followSlots = new LogFollowSlots(config.docker.logFollowsMax, config.docker.logFollowsPerToken);
  const dockerServices = new DockerServices(new DockerEngine(config.docker), stores.dockerServices, log, new PortAllocator(stores.ports, () => ownPorts), imageBuilder, followSlots);
  // Sign-in steps (docs/observability.md "OAuth flow tracing") and API writes ("Audit log").
  const oauthEvents = new OAuthEventRecorder(redis, { retentionHours: config.observability.logRetentionHours }, log);
  const audit = new AuditLog(redis, config.observability.auditRetentionDays, log);
  const observability = config.observability;
  // The request log writes over a connection of its own (storage/native-redis.ts: cheaper per record than ioredis;
  // with Sentinel, ioredis, which follows the master through a failover).
  const logConnection = !observability.requestLog
    ? undefined
    : "sentinels" in target
      ? ioredisCommandConnection(redis.duplicate({ connectionName: "portcullis-request-log" }), log)
      : connectNativeRedis(target);
  const requestLog = logConnection
    ? new RequestLogWriter(logConnection, { retentionHours: observability.logRetentionHours, queueMax: observability.requestLogQueueMax }, log)
    : undefined;
  const accessLog = observability.accessLog === "off" ? undefined : new AccessLog(observability.accessLog);
  // Clients of IP-address proxies send no SNI: the default certificate names those addresses (certificates/address-certificate.ts).
  const addressCertificate = new AddressCertificate((addresses) => certificateManager.localCa.sign(addresses, config.certificates.localCaCertDays));
  const certificates = new LiveCertificates(
    stores.certificates,
    { commonName: config.selfSignedCn, days: config.selfSignedDays },
    log,
    (record) => isPubliclyTrusted(record, config.certificates),
    { proxies: () => stores.proxies.list(), certificate: addressCertificate },
  );
  metrics.watchCertificates(certificates);
  metrics.watchLogFollows(() => dockerServices.followSlots.count());
  const authHostnames = config.oauth.authHostnames;
  const authorizationServer = createAuthorizationServer({
    events: oauthEvents,
    redis,
    settings: config.oauth,
    proxies: stores.proxies,
    secretsKey: loadSecretsKey(config.oauth.secretsKey, config.dataDir),
    // Strict resource validation: a resource must be on a host this gateway serves.
    servesHost: (host) => authHostnames.includes(host) || live.table.lookup(host) !== undefined,
    liveProxy: (host) => live.table.lookup(host)?.record ?? null,
    scopes: new LiveScopeCatalog(
      () => live.table,
      (dropped) => log.warn({ dropped, limit: MAX_SUPPORTED_SCOPES }, "more scopes are configured than the authorization server offers; the rest are refused"),
    ),
    tokenCounts: metrics.oauthTokens,
    log,
  });
  const { signingKeys, revoked, tokenVerifier } = authorizationServer.context;
  // MCP rate limits: counted in this node's memory, shared through Redis in the background.
  const rateLimits = new ClusterRateCounters(redis, log);
  // Token ports (docs/services.md "Source tokens"): bound by this node, followed like the rest of the config.
  const tokenRelay = new SourceTokenRelay(stores.ports, engine, log, { idleTimeoutSeconds: config.clientIdleTimeoutSeconds });
  const live = new LiveConfig(
    redis,
    stores,
    log,
    [certificates, signingKeys, revoked, tokenRelay],
    { issuer: config.oauth.issuer, allowedUsers: config.oauth.allowedUsers },
    rateLimitGates(rateLimits),
  );
  const edgeAuth = {
    verifier: tokenVerifier,
    issuer: config.oauth.issuer,
    signIn: createEdgeSignIn({
      oauthApp: authorizationServer.app,
      defaultAuthHost: authHostnames[0]!,
      sessionTimeoutSeconds: config.oauth.sessionTimeoutSeconds,
      events: oauthEvents,
    }),
  };
  // HTTP_PORT may be 0 (any free port): the self-check needs the port the listener got.
  let boundHttpPort = config.httpPort;
  const certificateManager = new CertificateManager({
    redis,
    certificates: stores.certificates,
    proxies: stores.proxies,
    settings: config.certificates,
    get httpPort() {
      return boundHttpPort;
    },
    selfSignedDays: config.selfSignedDays,
    adminEmail: config.adminEmail ?? null,
    log,
    issuances: metrics.acme,
  });
  // Side effects of configuration events, claimed by one node each through workflow-group (docs/operations.md "Workflow consumer").
  const workflowHandlers = new Map([["proxy_created", proxyCertificateHandler({ proxies: stores.proxies, manager: certificateManager, log })]]);
  const workflow = new WorkflowConsumer({ redis, handlers: workflowHandlers, settings: config.workflow, log, nodeId: observability.nodeId, counts: metrics.workflow });
  metrics.workflow.expect(workflowHandlers.keys());
  metrics.workflow.watchPending(() => workflow.pendingCount);
  const workflowTickets = new WorkflowTickets(redis);
  // Ports no service may take: as configured until the listeners are bound, then as bound (a setting of 0 picks any port).
  let ownPorts: GatewayPort[] = [
    { setting: "HTTP_PORT", port: config.httpPort },
    { setting: "HTTPS_PORT", port: config.httpsPort },
    { setting: "API_PORT", port: config.apiPort },
    { setting: "PROXY_PROTOCOL_PORT", port: config.proxyProtocolPort ?? 0 },
    { setting: "METRICS_PORT", port: config.metricsPort ?? 0 },
  ].filter((p) => p.port > 0);
  // Live tails (GET /api/v1/logs/follow) end when shutdown begins: they have nothing to finish.
  const stopping = new AbortController();
  // Started once every listener is bound (its entry lists them); marked stopped first thing at shutdown.
  let registry: ClusterRegistry | undefined;
  const stop = async () => {
    stopping.abort();
    await registry?.stop();
    // Answer with Connection: close for a moment, then stop accepting, let what is in flight finish, cut the rest.
    await shutDownListeners(listeners);
    tokenRelay.stop();
    await oauthEvents.stop();
    await audit.settled();
    // The records of what just finished go out before Redis does.
    const unwritten = await requestLog?.stop(Date.now() + RECORDS_FLUSH_MS);
    if (unwritten) log.warn({ unwritten }, "request log: records left unwritten at shutdown (Redis unreachable)");
    accessLog?.stop();
    logConnection?.close();
    metrics.stop();
    engine.close();
    await rateLimits.stop();
    // A side effect in progress finishes and is acknowledged; what is left is claimed by another node.
    await workflow.stop();
    workflowTickets.stop();
    await certificateManager.stop();
    await live.stop();
    certificates.stop();
    redis.disconnect();
    await storage.close();
  };

  try {
    log.info({ redis: describe(target) }, "waiting for redis");
    await waitUntilReady(redis);

    // With workers, the supervisor has done this once for all of them.
    if (!worker) await ensureAdminToken({
      tokens: stores.tokens,
      configuredToken: config.adminToken,
      adminEmail: config.adminEmail,
      dataDir: config.dataDir,
      log,
    });

    // The signing key exists before any node's follower reloads it.
    await authorizationServer.start();
    await live.start();
    rateLimits.start();

    certificateManager.start();
    // The group exists and this node listens for answers before its API takes a write.
    await workflowTickets.start();
    await workflow.start();
    oauthEvents.start();
    const mcpSessions = new McpSessionAffinity(await loadMcpSessionKey(redis));
    requestLog?.start();
    accessLog?.start();
    metrics.start();

    // /health reads the HTTPS listener once it is bound (it starts after the API).
    let httpsHealth: { edge: HttpsEdge; port: number } | undefined;
    const health: HealthSources = {
      certificateExpiries: () => certificates.expiries(),
      fallbackName: SELF_SIGNED_NAME,
      https: () => (httpsHealth ? { port: httpsHealth.port, draining: httpsHealth.edge.draining, certificateProblem: httpsHealth.edge.certificateProblem } : null),
      renewal: () => certificateManager.renewalState,
      appliedEventId: () => live.appliedEventId,
    };
    const api = {
      fetch: apiFetch(
        createApiApp({
          ...stores,
          dockerServiceManager: dockerServices,
          stopping: stopping.signal,
          certificateManager,
          workflowTickets,
          redis,
          log,
          startedAt,
          health,
          cluster: config.cluster,
          nodeId: observability.nodeId,
          metrics,
          apiHostnames: config.apiHostnames,
          baseDomain: config.baseDomain,
          gatewayPorts: () => ownPorts,
          githubApps: authorizationServer.githubApps,
          oauth: authorizationServer.context,
          audit: { log: audit, retentionDays: config.observability.auditRetentionDays },
        }),
        { log: audit, stores },
      ),
    };
    const apiServer = drainableServer(
      listenOrExplain("API_PORT", () =>
        Bun.serve({
          ...SERVE_DEFAULTS,
          reusePort,
          hostname: config.apiBind,
          port: config.apiPort,
          // refuseApiBody answers oversized or unsized bodies with a JSON 413/411 before reading; Bun's own 413 has no body.
          maxRequestBodySize: Number.MAX_SAFE_INTEGER,
          fetch: afterPipelinedRequestsSeen(api.fetch),
        }),
      ),
      api,
    );
    listeners.push(apiServer);
    metrics.watchListener("api", apiServer);
    // The internal service "api" (routes of target_type service, proxies with target_url service:api) is this API.
    await stores.services.registerInternal("api", internalApiUrl(config.apiBind, apiServer.port!));
    const metricsServer = config.metricsPort === null ? undefined : startMetricsListener(metrics, { hostname: config.metricsBind, port: config.metricsPort, reusePort });
    if (metricsServer) listeners.push(metricsServer);
    if (metricsServer) metrics.watchListener("metrics", metricsServer);
    if (requestLog) metrics.watchRequestLog(requestLog);
    const edge = {
      hostname: config.serverHost,
      port: config.httpPort,
      reusePort,
      apiHostnames: config.apiHostnames,
      apiAllowedCidrs: config.apiAllowedCidrs,
      api,
      oauth: { hostnames: authHostnames, app: authorizationServer.app },
      edgeAuth,
      mcpSessions,
      records: { node: observability.nodeId, log: requestLog, metrics: recordMetrics(metrics.edge, metrics.auth), accessLog },
      table: () => live.table,
      engine,
      trustedProxies: config.trustedProxies,
      idleTimeoutSeconds: config.clientIdleTimeoutSeconds,
      acmeChallenges: certificateManager.challenges,
      servesTrustedCertificate: (host: string) => certificates.servesTrustedCertificate(host),
    };
    const proxyProtocol = { trusted: config.proxyProtocolTrusted, headerTimeoutMs: config.proxyProtocolTimeoutMs, log, redis, reusePort };
    const raw = config.httpEngine === "raw";
    const httpServer = raw
      ? startRawHttpEdge({ ...edge, setting: "HTTP_PORT", proxyProtocol: config.httpProxyProtocol ? proxyProtocol : undefined })
      : config.httpProxyProtocol
        ? startProxyProtocolHttp({ ...edge, ...proxyProtocol, setting: "HTTP_PORT" })
        : startHttpEdge(edge);
    listeners.push(httpServer);
    metrics.watchListener("http", httpServer);
    boundHttpPort = httpServer.port!;
    const proxyProtocolServer =
      config.proxyProtocolPort === null
        ? undefined
        : raw
          ? startRawHttpEdge({ ...edge, port: config.proxyProtocolPort, setting: "PROXY_PROTOCOL_PORT", proxyProtocol })
          : startProxyProtocolHttp({ ...edge, ...proxyProtocol, port: config.proxyProtocolPort, setting: "PROXY_PROTOCOL_PORT" });
    if (proxyProtocolServer) listeners.push(proxyProtocolServer);
    if (proxyProtocolServer) metrics.watchListener("proxy_protocol", proxyProtocolServer);
    // With HTTPS_PROXY_PROTOCOL the TLS edge moves to loopback behind a relay that owns HTTPS_PORT.
    const httpsRegistry = config.httpsProxyProtocol ? new ClientRegistry() : undefined;
    const httpsEdge = startHttpsEdge({
      ...edge,
      hostname: httpsRegistry ? "127.0.0.1" : config.serverHost,
      port: httpsRegistry ? 0 : config.httpsPort,
      identifyClient: httpsRegistry && relayedClientIdentity(httpsRegistry),
      certificates,
      log,
    });
    listeners.push(httpsEdge);
    metrics.watchListener("https", httpsEdge);
    const httpsServer = httpsRegistry
      ? startProxyProtocolPassthrough({
          ...proxyProtocol,
          hostname: config.serverHost,
          port: config.httpsPort,
          upstreamPort: httpsEdge.port,
          registry: httpsRegistry,
          setting: "HTTPS_PORT",
        })
      : httpsEdge;
    if (httpsServer !== httpsEdge) listeners.push(httpsServer);
    httpsHealth = { edge: httpsEdge, port: httpsServer.port };

    ownPorts = [
      { setting: "HTTP_PORT", port: httpServer.port! },
      { setting: "HTTPS_PORT", port: httpsServer.port },
      { setting: "API_PORT", port: apiServer.port! },
      { setting: "PROXY_PROTOCOL_PORT", port: proxyProtocolServer?.port ?? 0 },
      { setting: "METRICS_PORT", port: metricsServer?.port ?? 0 },
    ].filter((p) => p.port > 0);
    const boundListeners: NodeListener[] = [
      { name: "api", protocol: "http", port: apiServer.port! },
      { name: "http", protocol: config.httpProxyProtocol ? "http+proxy-protocol" : "http", port: httpServer.port! },
      { name: "https", protocol: httpsRegistry ? "https+proxy-protocol" : "https", port: httpsServer.port },
      ...(proxyProtocolServer ? [{ name: "proxy_protocol", protocol: "http+proxy-protocol", port: proxyProtocolServer.port! }] : []),
      ...(metricsServer ? [{ name: "metrics", protocol: "http", port: metricsServer.port! }] : []),
    ];
    registry = new ClusterRegistry(
      stores.clusterNodes,
      redis,
      config.cluster,
      {
        nodeId: observability.nodeId,
        startedAt,
        listeners: () => boundListeners,
        appliedEventId: () => live.appliedEventId,
        pendingRequests: () => metrics.pendingRequests(),
        answeredRequests: () => metrics.edge.answeredRequests(),
      },
      log,
    );
    await registry.start();
    log.info(
      {
        version: VERSION,
        commit: BUILD_COMMIT,
        api: `http://${config.apiBind}:${apiServer.port}`,
        api_port: apiServer.port,
        http_port: httpServer.port,
        https_port: httpsServer.port,
        proxy_protocol_port: proxyProtocolServer?.port ?? 0,
        metrics_port: metricsServer?.port ?? 0,
        node: observability.nodeId,
        pid: process.pid,
      },
      "portcullis is serving",
    );
    return {
      apiPort: apiServer.port!,
      httpPort: httpServer.port!,
      httpsPort: httpsServer.port,
      proxyProtocolPort: proxyProtocolServer?.port ?? 0,
      metricsPort: metricsServer?.port ?? 0,
      get httpsDraining() {
        return httpsEdge.draining;
      },
      redis,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Where this node's API answers: API_BIND, or loopback when it listens on every address. */
export function internalApiUrl(bind: string, port: number): string {
  const host = bind === "" || bind === "0.0.0.0" || bind === "::" || bind === "[::]" ? "127.0.0.1" : bind;
  return `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}
