/**
 * /api/v1/proxy/targets/{hostname}/auth — a proxy's edge authentication (002
 * "API Endpoints"): the `auth_*` fields by their schema names. Every answer
 * also says who may actually get in (`effective_users`): the proxy's own list,
 * or OAUTH_ALLOWED_GITHUB_USERS (else OAUTH_ADMIN_USERS) when it has none. The admin sees every proxy;
 * other tokens their own.
 */
import { Elysia } from "elysia";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import { AUTH_DEFAULTS, AUTH_FIELDS, checkAuthSettings, ProxyAuthBody, type AuthFields } from "../schemas/proxy-auth";
import { HostnameParams, updateVisibleProxy, visibleProxy as visibleProxyOf, settingsWithDefaults } from "../proxy-access";


export interface ProxyAuthDependencies {
  tokens: TokenRepository;
  proxies: ProxyRepository;
  oauth: { readonly supportedScopes: readonly string[]; readonly settings: { readonly authHostnames: readonly string[]; readonly allowedUsers: readonly string[] } };
}

export function proxyAuthRoutes(deps: ProxyAuthDependencies) {
  const { proxies, oauth } = deps;

  const visibleProxy = (caller: Caller, hostname: string) => visibleProxyOf(proxies, caller, hostname);

  const view = (proxy: ProxyRecord) => {
    const fields = settingsWithDefaults(proxy, AUTH_FIELDS, AUTH_DEFAULTS);
    const own = fields.auth_required_users?.length ? fields.auth_required_users : null;
    return {
      hostname: proxy.hostname,
      ...fields,
      effective_users: own ?? [...oauth.settings.allowedUsers],
      allowed_users_source: own ? ("proxy" as const) : ("default" as const),
    };
  };

  const change = async (caller: Caller, hostname: string, fields: Partial<AuthFields>) => {
    const updated = await updateVisibleProxy(proxies, caller, hostname, (stored) => {
      const merged = { ...stored, ...fields };
      // Enabled with nowhere to log in: the gateway's own authorization server.
      if (merged.auth_enabled && merged.auth_proxy === null) merged.auth_proxy = oauth.settings.authHostnames[0] ?? null;
      return merged;
    });
    return view(updated);
  };

  return new Elysia({ prefix: "/proxy/targets", tags: ["proxies"] })
    .derive(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/:hostname/auth", async ({ caller, params }) => view(await visibleProxy(caller, params.hostname)), {
      params: HostnameParams,
      detail: { summary: "A proxy's authentication settings, and the users they let in" },
    })
    .post("/:hostname/auth", async ({ body, caller, params }) => change(caller, params.hostname, checkAuthSettings(body)), {
      params: HostnameParams,
      body: ProxyAuthBody,
      detail: {
        summary: "Set some of a proxy's auth_* fields (the others keep their values); enabling without auth_proxy uses the gateway's authorization server",
      },
    })
    .delete("/:hostname/auth", async ({ caller, params }) => change(caller, params.hostname, AUTH_DEFAULTS), {
      params: HostnameParams,
      detail: { summary: "Turn a proxy's authentication off and reset every auth_* field to its default" },
    });
}
