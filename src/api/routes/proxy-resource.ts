/**
 * /api/v1/proxy/targets/{hostname}/resource (002) and its 001 alias /mcp — a
 * proxy's protected resource metadata (RFC 9728): the `resource_*` fields by
 * their schema names. Every answer says which resource URI tokens must name,
 * where clients find the metadata document, and what it will say. The admin
 * sees every proxy; other tokens their own.
 */
import { Elysia } from "elysia";
import { protectedResourceMetadata } from "../../auth/edge/protected-resource";
import { effectiveIssuer } from "../../auth/server/metadata";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import { checkResourceSettings, metadataUrl, ProxyResourceBody, RESOURCE_DEFAULTS, RESOURCE_FIELDS, resourceUri, type ResourceFields } from "../schemas/resource";
import { HostnameParams, updateVisibleProxy, visibleProxy as visibleProxyOf, settingsWithDefaults } from "../proxy-access";


export interface ProxyResourceDependencies {
  tokens: TokenRepository;
  proxies: ProxyRepository;
  oauth: { readonly supportedScopes: readonly string[]; readonly settings: { readonly issuer: string } };
}

/**
 * The settings, the resource URI tokens must carry, where clients find the
 * metadata, and the document they get there over HTTPS on the default port.
 */
export function proxyResourceView(proxy: ProxyRecord, defaultIssuer: string) {
  const fields = settingsWithDefaults(proxy, RESOURCE_FIELDS, RESOURCE_DEFAULTS);
  const resource = resourceUri(proxy.hostname, fields.resource_endpoint);
  // The issuer the authorization server states on this proxy's host.
  const asIssuer = effectiveIssuer(defaultIssuer, proxy);
  return {
    hostname: proxy.hostname,
    ...fields,
    resource,
    metadata_url: metadataUrl(proxy.hostname, fields.resource_endpoint),
    metadata_url_root: metadataUrl(proxy.hostname, null),
    metadata_preview: protectedResourceMetadata({ ...proxy, ...fields }, { resource, asIssuer, jwksUri: `${asIssuer}/jwks` }),
  };
}

export function proxyResourceRoutes(deps: ProxyResourceDependencies) {
  const { proxies, oauth } = deps;

  const visibleProxy = (caller: Caller, hostname: string) => visibleProxyOf(proxies, caller, hostname);

  const change = async (caller: Caller, hostname: string, fields: Partial<ResourceFields>) => {
    const updated = await updateVisibleProxy(proxies, caller, hostname, (stored) => ({ ...stored, ...fields }));
    return proxyResourceView(updated, oauth.settings.issuer);
  };

  const app = new Elysia({ prefix: "/proxy/targets", tags: ["proxies"] }).derive(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }));
  // 001 called the same settings "mcp"; both paths run the same handlers.
  for (const [segment, alias] of [
    ["resource", ""],
    ["mcp", " (alias of /resource)"],
  ] as const) {
    app
      .get(`/:hostname/${segment}`, async ({ caller, params }) => proxyResourceView(await visibleProxy(caller, params.hostname), oauth.settings.issuer), {
        params: HostnameParams,
        detail: { summary: `A proxy's protected resource metadata settings, its resource URI and metadata URLs${alias}` },
      })
      .post(`/:hostname/${segment}`, async ({ body, caller, params }) => change(caller, params.hostname, checkResourceSettings(body)), {
        params: HostnameParams,
        body: ProxyResourceBody,
        detail: { summary: `Set some of a proxy's resource_* fields (RFC 9728 metadata; the others keep their values)${alias}` },
      })
      .delete(`/:hostname/${segment}`, async ({ caller, params }) => change(caller, params.hostname, RESOURCE_DEFAULTS), {
        params: HostnameParams,
        detail: { summary: `Clear a proxy's protected resource metadata${alias}` },
      });
  }
  return app;
}
