/**
 * /api/v1/proxy/targets/{hostname}/oauth-server — a proxy's own authorization
 * server metadata (002 "OAuth Authorization Server Metadata"): the
 * `oauth_server_*` fields, served at the proxy's
 * /.well-known/oauth-authorization-server when `oauth_server_override_defaults`
 * is on. Every answer carries `metadata_preview`, the document clients of
 * that host would get. The admin sees every proxy; other tokens their own.
 */
import { Elysia } from "elysia";
import type { OAuthServerContext } from "../../auth/server/context";
import { authorizationServerMetadata } from "../../auth/server/metadata";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import { checkOAuthServerSettings, OAUTH_SERVER_DEFAULTS, OAUTH_SERVER_FIELDS, OAuthServerBody, type OAuthServerFields } from "../schemas/oauth";
import { HostnameParams, updateVisibleProxy, visibleProxy as visibleProxyOf, settingsWithDefaults } from "../proxy-access";


export function proxyOAuthServerRoutes(deps: { tokens: TokenRepository; proxies: ProxyRepository; oauth: OAuthServerContext }) {
  const { proxies, oauth } = deps;

  const visibleProxy = (caller: Caller, hostname: string) => visibleProxyOf(proxies, caller, hostname);

  const view = (proxy: ProxyRecord) => {
    const fields = settingsWithDefaults(proxy, OAUTH_SERVER_FIELDS, OAUTH_SERVER_DEFAULTS);
    return {
      hostname: proxy.hostname,
      ...fields,
      metadata_preview: authorizationServerMetadata(oauth.settings.issuer, proxy, { clientIdMetadataDocuments: oauth.settings.clientMetadataDocuments, scopes: oauth.supportedScopes }),
    };
  };

  const change = async (caller: Caller, hostname: string, fields: Partial<OAuthServerFields>) => {
    const updated = await updateVisibleProxy(proxies, caller, hostname, (stored) => ({ ...stored, ...fields }));
    return view(updated);
  };

  return new Elysia({ prefix: "/proxy/targets", tags: ["proxies"] })
    .derive(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/:hostname/oauth-server", async ({ caller, params }) => view(await visibleProxy(caller, params.hostname)), {
      params: HostnameParams,
      detail: { summary: "A proxy's OAuth authorization server settings and the metadata document they produce" },
    })
    .post("/:hostname/oauth-server", async ({ body, caller, params }) => change(caller, params.hostname, checkOAuthServerSettings(body)), {
      params: HostnameParams,
      body: OAuthServerBody,
      detail: {
        summary: "Set some of a proxy's oauth_server_* fields (the others keep their values); they apply while oauth_server_override_defaults is true",
      },
    })
    .delete("/:hostname/oauth-server", async ({ caller, params }) => change(caller, params.hostname, OAUTH_SERVER_DEFAULTS), {
      params: HostnameParams,
      detail: { summary: "Reset a proxy's oauth_server_* fields to the defaults" },
    });
}
