/**
 * /api/v1/resources — the protected resource registry (001 "Protected Resource
 * Management API Endpoints"): `resource:{uri}` records, a token check against
 * one resource, and registration of every proxy that protects something. The
 * URI goes percent-encoded in the path. The admin sees every resource; other
 * tokens their own.
 */
import { Elysia, t } from "elysia";
import type { OAuthServerContext } from "../../auth/server/context";
import { verifyAccessToken } from "../../auth/tokens/access-token";
import { OAuthError } from "../../auth/oauth-error";
import { conflict, forbidden, invalid, notFound } from "../../core/errors";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { ResourceRecord, ResourceRepository } from "../../storage/resource-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, canSee, type Caller } from "../caller";
import {
  checkRegistryFields,
  checkResourceUri,
  metadataUrl,
  metadataUrlOf,
  ResourceCreateBody,
  ResourceUpdateBody,
  resourceUri,
  ValidateTokenBody,
  type RegistryFields,
} from "../schemas/resource";

const UriParams = t.Object({ uri: t.String({ minLength: 1, maxLength: 2000, description: "The resource URI, percent-encoded" }) });

export interface ResourceApiDependencies {
  tokens: TokenRepository;
  proxies: ProxyRepository;
  resources: ResourceRepository;
  oauth: Pick<OAuthServerContext, "signingKeys" | "revoked" | "tokens" | "supportedScopes">;
}

type Skipped = { hostname: string; reason: string };

export function resourceRoutes(deps: ResourceApiDependencies) {
  const { proxies, resources, oauth } = deps;

  const visibleResource = async (caller: Caller, rawUri: string): Promise<ResourceRecord> => {
    const record = await resources.get(checkResourceUri("uri", rawUri));
    if (!record || !canSee(caller, record.owner_token_hash)) throw notFound(`resource ${JSON.stringify(rawUri.slice(0, 200))}`);
    return record;
  };

  /**
   * A token may describe resources on hosts it serves, or on hosts no proxy
   * serves; a proxy named as the target must be one it can see.
   */
  const checkAllowed = async (caller: Caller, uri: string, fields: RegistryFields) => {
    if (fields.proxy_target) {
      const proxy = await proxies.get(fields.proxy_target);
      if (!proxy || !canSee(caller, proxy.owner_token_hash)) throw invalid(`proxy_target: no proxy ${JSON.stringify(fields.proxy_target)} that this token can see`);
    }
    if (caller.isAdmin) return;
    const host = await proxies.get(new URL(uri).hostname);
    if (host && !canSee(caller, host.owner_token_hash)) throw forbidden(`uri: ${new URL(uri).hostname} is served by a proxy this token does not own`);
  };

  /** Why a token is not good for the resource, or its claims. */
  const validate = async (uri: string, token: string) => {
    let claims;
    try {
      claims = await verifyAccessToken(oauth.signingKeys, token, { audience: uri });
    } catch (err) {
      if (err instanceof OAuthError) return { valid: false as const, resource: uri, reason: err.description };
      throw err;
    }
    if (oauth.revoked.has(claims.jti) || (await oauth.tokens.isRevoked(claims.jti))) return { valid: false as const, resource: uri, reason: "token revoked" };
    return { valid: true as const, resource: uri, claims };
  };

  /** One resource per proxy that protects something, keyed like the proxy's resource URI. */
  const autoRegister = async (caller: Caller) => {
    const skipped: Skipped[] = [];
    const wanted: { proxy: ProxyRecord; uri: string }[] = [];
    for (const proxy of await proxies.list()) {
      if (!canSee(caller, proxy.owner_token_hash) || (proxy.resource_endpoint === null && !proxy.auth_enabled)) continue;
      if (proxy.hostname.startsWith("*.")) {
        skipped.push({ hostname: proxy.hostname, reason: "a wildcard proxy has no single resource URI" });
        continue;
      }
      try {
        wanted.push({ proxy, uri: checkResourceUri("uri", resourceUri(proxy.hostname, proxy.resource_endpoint)) });
      } catch {
        skipped.push({ hostname: proxy.hostname, reason: `resource_endpoint ${JSON.stringify(proxy.resource_endpoint)} makes no resource URI` });
      }
    }
    const taken = new Set<string>();
    const unique = wanted.filter(({ proxy, uri }) => {
      if (!taken.has(uri)) return taken.add(uri);
      skipped.push({ hostname: proxy.hostname, reason: `another proxy already claims ${uri}` });
      return false;
    });
    return resources.writeMany(
      unique.map((w) => w.uri),
      (current) => {
        const now = new Date().toISOString();
        const result = { created: [] as string[], updated: [] as string[], unchanged: [] as string[], skipped: [...skipped] };
        const writes: ResourceRecord[] = [];
        unique.forEach(({ proxy, uri }, i) => {
          const existing = current[i] ?? null;
          const derived = {
            proxy_target: proxy.hostname,
            scopes: proxy.resource_scopes ?? [],
            metadata_url: metadataUrl(proxy.hostname, proxy.resource_endpoint),
          };
          if (existing === null) {
            const info = proxy.resource_server_info?.name;
            const name = typeof info === "string" && info.trim() !== "" && info.length <= 256 ? info.trim() : proxy.hostname;
            writes.push({ uri, name, ...derived, description: "", owner_token_hash: proxy.owner_token_hash, created_by: caller.name, created_at: now, updated_at: now });
            result.created.push(uri);
          } else if (!canSee(caller, existing.owner_token_hash)) {
            result.skipped.push({ hostname: proxy.hostname, reason: `${uri} is registered by another token` });
          } else if (sameDerived(existing, derived)) {
            result.unchanged.push(uri);
          } else {
            writes.push({ ...existing, ...derived, updated_at: now });
            result.updated.push(uri);
          }
        });
        return { writes, result };
      },
    );
  };

  return new Elysia({ prefix: "/resources", tags: ["resources"] })
    .derive(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/", async ({ caller }) => (await resources.list()).filter((r) => canSee(caller, r.owner_token_hash)), {
      detail: { summary: "List the protected resources the caller can see" },
    })
    .post(
      "/",
      async ({ body, caller, set }) => {
        const { uri: rawUri, ...rest } = body;
        const uri = checkResourceUri("uri", rawUri);
        const fields = checkRegistryFields(rest);
        await checkAllowed(caller, uri, fields);
        const now = new Date().toISOString();
        const record: ResourceRecord = {
          uri,
          name: fields.name ?? new URL(uri).host,
          proxy_target: fields.proxy_target ?? null,
          scopes: fields.scopes ?? [],
          metadata_url: fields.metadata_url ?? metadataUrlOf(uri),
          description: fields.description ?? "",
          owner_token_hash: caller.hash,
          created_by: caller.name,
          created_at: now,
          updated_at: now,
        };
        if (!(await resources.create(record))) throw conflict(`a resource ${uri} is already registered`);
        set.status = 201;
        return record;
      },
      { body: ResourceCreateBody, detail: { summary: "Register a protected resource; its uri is stored in canonical form" } },
    )
    .post("/auto-register", async ({ caller }) => autoRegister(caller), {
      detail: { summary: "Register (or bring up to date) one resource per proxy with resource_endpoint set or auth enabled" },
    })
    .get("/:uri", async ({ caller, params }) => visibleResource(caller, params.uri), {
      params: UriParams,
      detail: { summary: "One protected resource" },
    })
    .put(
      "/:uri",
      async ({ body, caller, params }) => {
        const current = await visibleResource(caller, params.uri);
        const { uri: rawUri, ...rest } = body;
        if (rawUri !== undefined && checkResourceUri("uri", rawUri) !== current.uri) throw invalid("uri: a resource's uri cannot change; register a new one instead");
        const fields = checkRegistryFields(rest);
        await checkAllowed(caller, current.uri, fields);
        const updated = await resources.update(current.uri, (stored) => ({ ...stored, ...fields }));
        if (!updated) throw notFound(`resource ${JSON.stringify(params.uri.slice(0, 200))}`);
        return updated;
      },
      { params: UriParams, body: ResourceUpdateBody, detail: { summary: "Change some fields of a protected resource" } },
    )
    .delete(
      "/:uri",
      async ({ caller, params }) => {
        const current = await visibleResource(caller, params.uri);
        if (!(await resources.delete(current.uri))) throw notFound(`resource ${JSON.stringify(params.uri.slice(0, 200))}`);
        return { deleted: current.uri };
      },
      { params: UriParams, detail: { summary: "Remove a protected resource from the registry" } },
    )
    .post(
      "/:uri/validate-token",
      async ({ body, caller, params }) => validate((await visibleResource(caller, params.uri)).uri, body.token),
      {
        params: UriParams,
        body: ValidateTokenBody,
        detail: { summary: "Whether an access token is good for this resource: signature, expiry, audience, revocation" },
      },
    );
}

function sameDerived(record: ResourceRecord, derived: Pick<ResourceRecord, "proxy_target" | "scopes" | "metadata_url">): boolean {
  return (
    record.proxy_target === derived.proxy_target &&
    record.metadata_url === derived.metadata_url &&
    record.scopes.length === derived.scopes.length &&
    record.scopes.every((s, i) => s === derived.scopes[i])
  );
}
