/**
 * /api/v1/proxy/targets/{hostname}/mcp-policy — what the edge enforces at a
 * proxy's MCP endpoint (src/mcp): per-tool and per-method scopes, tools/list
 * filtering, the browser origins allowed, per-identity rate limits. (`…/mcp` is the 001 spelling of
 * `…/resource`, hence the longer name.) The admin sees every proxy; other
 * tokens their own.
 */
import { Elysia } from "elysia";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import { checkMcpPolicySettings, MCP_POLICY_DEFAULTS, MCP_POLICY_FIELDS, ProxyMcpPolicyBody, type McpPolicyFields } from "../schemas/mcp-policy";
import { HostnameParams, settingsWithDefaults, updateVisibleProxy, visibleProxy as visibleProxyOf } from "../proxy-access";

export interface ProxyMcpPolicyDependencies {
  tokens: TokenRepository;
  proxies: ProxyRepository;
}

/**
 * The settings, where they apply (the MCP endpoint; none without
 * resource_endpoint), and every scope they name: a client that is refused is
 * told to ask for those, so the authorization server must be able to grant them.
 */
export function proxyMcpPolicyView(proxy: ProxyRecord) {
  const fields = settingsWithDefaults(proxy, MCP_POLICY_FIELDS, MCP_POLICY_DEFAULTS);
  const named = new Set<string>();
  for (const map of [fields.mcp_tool_scopes, fields.mcp_method_scopes]) for (const scopes of Object.values(map ?? {})) for (const s of scopes) named.add(s);
  return {
    hostname: proxy.hostname,
    ...fields,
    mcp_endpoint: proxy.resource_endpoint ?? null,
    enforced: proxy.resource_endpoint != null,
    policy_scopes: [...named].sort(),
  };
}

export function proxyMcpPolicyRoutes(deps: ProxyMcpPolicyDependencies) {
  const { proxies } = deps;

  const change = async (caller: Caller, hostname: string, fields: Partial<McpPolicyFields>) =>
    proxyMcpPolicyView(await updateVisibleProxy(proxies, caller, hostname, (stored) => ({ ...stored, ...fields })));

  return new Elysia({ prefix: "/proxy/targets", tags: ["proxies"] })
    .derive(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/:hostname/mcp-policy", async ({ caller, params }) => proxyMcpPolicyView(await visibleProxyOf(proxies, caller, params.hostname)), {
      params: HostnameParams,
      detail: { summary: "A proxy's MCP endpoint policy: per-tool and per-method scopes, tools/list filtering, allowed browser origins, rate limits" },
    })
    .post("/:hostname/mcp-policy", async ({ body, caller, params }) => change(caller, params.hostname, checkMcpPolicySettings(body)), {
      params: HostnameParams,
      body: ProxyMcpPolicyBody,
      detail: { summary: "Set some of a proxy's mcp_* fields (the others keep their values); enforced at resource_endpoint" },
    })
    .delete("/:hostname/mcp-policy", async ({ caller, params }) => change(caller, params.hostname, MCP_POLICY_DEFAULTS), {
      params: HostnameParams,
      detail: { summary: "Clear a proxy's MCP endpoint policy (every mcp_* field back to its default)" },
    });
}
