/**
 * /api/v1/proxy/targets — proxy targets and their route control (002 "API
 * Endpoints"). The admin sees every proxy; other tokens see what they own.
 */
import { Elysia, t } from "elysia";
import { conflict, invalid, notFound } from "../../core/errors";
import { routesForProxy } from "../../dispatcher/routes";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { RouteRepository } from "../../storage/route-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { isEmail } from "../../core/config";
import type { CertificateManager } from "../../certificates/certificate-manager";
import { proxyCertificateState } from "../../certificates/proxy-certificate-sync";
import { planProxyCertificate } from "../../certificates/proxy-certificates";
import type { ProxyCertificateWork } from "../../certificates/proxy-certificate-workflow";
import type { WorkflowTickets } from "../../orchestration/workflow-tickets";
import type { CertificateRepository } from "../../storage/certificate-repository";
import { authenticate, canSee, type Caller } from "../caller";
import { checkProxySettings, defaultPreserveHost, PROXY_DEFAULTS, ProxyCreateBody, ProxyUpdateBody } from "../schemas/proxy-target";
import { visibleProxy as visibleProxyOf } from "../proxy-access";

/** What the API shows of a proxy: everything but its secrets. */
export function proxyView(record: ProxyRecord) {
  const { github_client_secret, ...view } = record;
  return { ...view, github_client_secret_set: github_client_secret !== null };
}

const RouteControlBody = t.Object(
  {
    route_mode: t.Optional(t.Union([t.Literal("all"), t.Literal("selective"), t.Literal("none")])),
    enabled_routes: t.Optional(t.Array(t.String(), { maxItems: 1000 })),
    disabled_routes: t.Optional(t.Array(t.String(), { maxItems: 1000 })),
  },
  { additionalProperties: false },
);

/** What creating a proxy needs (the deps of proxyTargetRoutes). */
export type ProxyCreateDeps = Pick<Parameters<typeof proxyTargetRoutes>[0], "tokens" | "proxies" | "certificates" | "certificateManager" | "workflowTickets" | "apiHostnames" | "oauth">;

/**
 * How long creating a proxy waits for the node that claims its certificate
 * work (usually a few ms); after that the answer shows the certificate as it
 * stands, and the work is still done when a node claims it.
 */
const CERTIFICATE_WAIT_MS = 5_000;

/**
 * Creates a proxy owned by the caller (POST /proxy/targets, also used by
 * POST /services/{name}/proxy): the checks, the record, its certificate. 409 if it exists.
 * The certificate is planned here and written into the proxy's `proxy_created`
 * event; one node's workflow consumer signs or requests it, and this waits for that.
 */
export async function createProxyTarget(deps: ProxyCreateDeps, caller: Caller, body: typeof ProxyCreateBody.static): Promise<ProxyRecord> {
  const proxies = deps.proxies;
  const { staging = false, cert_email, ...fields } = body;
  if (cert_email !== undefined && !isEmail(cert_email)) throw invalid(`cert_email: ${JSON.stringify(cert_email)} is not an email address`);
  const { hostname, ...settings } = checkProxySettings(fields);
  if (deps.apiHostnames.includes(hostname)) throw conflict(`${hostname} is reserved for the API (API_HOSTNAME)`);
  if (deps.oauth.settings.authHostnames.includes(hostname)) {
    throw conflict(`${hostname} is the authorization server's hostname (auth.{BASE_DOMAIN} or OAUTH_ISSUER)`);
  }
  const now = new Date().toISOString();
  const record: ProxyRecord = {
    hostname,
    ...PROXY_DEFAULTS,
    preserve_host_header: defaultPreserveHost(settings.target_url),
    ...settings,
    owner_token_hash: caller.hash,
    created_by: caller.name,
    created_at: now,
    updated_at: now,
  };
  const manager = deps.certificateManager;
  const plan =
    settings.cert_name !== undefined
      ? ({ kind: "none" } as const)
      : await planProxyCertificate(record, deps.certificates, manager.settings, (domains) => manager.issuerFor(domains));
  if (plan.kind !== "none") record.cert_name = plan.cert_name;
  let work: ProxyCertificateWork | null = null;
  if (plan.kind === "local") work = { issuer: "local-ca", cert_name: plan.cert_name };
  if (plan.kind === "request") {
    const email = cert_email ?? (await deps.tokens.getByHash(caller.hash))?.cert_email ?? manager.adminEmail;
    work = { issuer: "acme", cert_name: plan.cert_name, email, staging };
  }
  const expectation = work ? deps.workflowTickets.expect() : null;
  try {
    if (!(await proxies.create(record, work ? { certificate: work, ticket: expectation!.ticket } : {}))) throw conflict(`a proxy for ${hostname} already exists`);
  } catch (err) {
    expectation?.cancel();
    throw err;
  }
  await expectation?.settled(CERTIFICATE_WAIT_MS);
  return record;
}

export function proxyTargetRoutes(deps: {
  tokens: TokenRepository;
  proxies: ProxyRepository;
  routes: RouteRepository;
  certificates: CertificateRepository;
  certificateManager: CertificateManager;
  /** Lets proxy creation wait for the node that claims its certificate work. */
  workflowTickets: WorkflowTickets;
  apiHostnames: readonly string[];
  oauth: { settings: { authHostnames: readonly string[] } };
}) {
  const { proxies } = deps;

  const visibleProxy = (caller: Caller, hostname: string) => visibleProxyOf(proxies, caller, hostname);
  /** The view plus `certificate`: a certificate that exists, "pending", "failed: <reason>", or null. */
  const withCertificate = async (record: ProxyRecord) => ({
    ...proxyView(record),
    certificate: await proxyCertificateState(record, deps.certificates, deps.certificateManager.statuses),
  });

  const routeControl = async (record: ProxyRecord) => ({
    hostname: record.hostname,
    route_mode: record.route_mode,
    enabled_routes: record.enabled_routes,
    disabled_routes: record.disabled_routes,
    effective_routes: routesForProxy(record, await deps.routes.list()),
  });

  return new Elysia({ prefix: "/proxy/targets", tags: ["proxies"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/", async ({ caller }) => Promise.all((await proxies.list()).filter((p) => canSee(caller, p.owner_token_hash)).map(withCertificate)), {
      detail: { summary: "List the proxies the caller can see" },
    })
    .post(
      "/",
      async ({ body, caller, set }) => {
        const record = await createProxyTarget(deps, caller, body);
        set.status = 201;
        return withCertificate((await proxies.get(record.hostname)) ?? record);
      },
      { body: ProxyCreateBody, detail: { summary: "Create a proxy target; it serves at once on every node" } },
    )
    .get("/:hostname", async ({ caller, params }) => withCertificate(await visibleProxy(caller, params.hostname)), {
      detail: { summary: "One proxy target" },
    })
    .put(
      "/:hostname",
      async ({ body, caller, params }) => {
        const current = await visibleProxy(caller, params.hostname);
        const settings = checkProxySettings(body);
        if (settings.hostname !== undefined && settings.hostname !== current.hostname) {
          throw invalid("hostname: a proxy's hostname cannot change; create a new proxy instead");
        }
        const updated = await proxies.update(current.hostname, (stored) => ({ ...stored, ...settings, hostname: stored.hostname }));
        if (!updated) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        return withCertificate(updated);
      },
      { body: ProxyUpdateBody, detail: { summary: "Change some settings of a proxy target" } },
    )
    .delete(
      "/:hostname",
      async ({ caller, params, query }) => {
        const current = await visibleProxy(caller, params.hostname);
        const certName = query.delete_cert === "true" ? current.cert_name : null;
        const certificate = certName ? await deps.certificates.get(certName) : null;
        if (certificate && canSee(caller, certificate.owner_token_hash) && query.force !== "true") {
          const others = (await proxies.list()).filter((p) => p.cert_name === certName && p.hostname !== current.hostname).map((p) => p.hostname);
          if (others.length > 0) {
            throw conflict(`certificate ${certName} is also used by ${others.join(", ")}; add force=true to delete it anyway, or leave out delete_cert`);
          }
        }
        if (!(await proxies.delete(current.hostname))) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        // Not issued yet: the request for it (status and queued job) is cancelled instead.
        const pending = certName && !certificate ? await deps.certificateManager.statuses.get(certName) : null;
        if (pending && canSee(caller, pending.owner_token_hash)) await deps.certificateManager.delete(certName!);
        const certificateDeleted = certificate !== null && canSee(caller, certificate.owner_token_hash) && (await deps.certificateManager.delete(certificate.cert_name));
        return certName ? { deleted: current.hostname, certificate_deleted: certificateDeleted ? certName : null } : { deleted: current.hostname };
      },
      {
        query: t.Object({
          delete_cert: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])),
          force: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])),
        }),
        detail: { summary: "Delete a proxy target (requests in flight finish); delete_cert=true also deletes its certificate" },
      },
    )
    .get("/:hostname/routes", async ({ caller, params }) => routeControl(await visibleProxy(caller, params.hostname)), {
      detail: { summary: "The proxy's route mode and the routes that apply to it, in evaluation order" },
    })
    .put(
      "/:hostname/routes",
      async ({ body, caller, params }) => {
        const current = await visibleProxy(caller, params.hostname);
        const updated = await proxies.update(current.hostname, (stored) => ({ ...stored, ...body }));
        if (!updated) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        return routeControl(updated);
      },
      { body: RouteControlBody, detail: { summary: "Set route_mode, enabled_routes and disabled_routes" } },
    );
}
