/**
 * /api/v1/proxy/targets/{hostname}/github-oauth — a proxy's own GitHub OAuth
 * app (002 "Per-Proxy GitHub OAuth Apps"). The client secret goes in once and
 * never comes out: it is sealed before it reaches Redis, and answers only say
 * whether one is set — except /secret, which hands it to its owner (or the
 * admin) for `portcullis export --include-secrets`. Visibility follows the proxy routes: the admin sees
 * every proxy, other tokens the ones they own, and an unseen proxy is a 404.
 */
import { Elysia, t } from "elysia";
import { conflict, invalid, notFound } from "../../core/errors";
import type { GitHubApps } from "../../auth/upstream/github-apps";
import type { ProxyRecord, ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, canSee, type Caller } from "../caller";
import { visibleProxy as visibleProxyOf } from "../proxy-access";

/** GitHub client IDs: `Ov23li…` for OAuth apps, `Iv1.…`/`Iv23…` for GitHub Apps; Enterprise uses the same forms. */
const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Printable ASCII without spaces: every GitHub secret form, and nothing a copy-paste accident adds. */
const CLIENT_SECRET = /^[\x21-\x7e]{1,255}$/;

const ConfigureBody = t.Object(
  {
    github_client_id: t.String({ description: "The GitHub OAuth app's client ID" }),
    // Unknown to the validator, whose type errors quote the value they found; checked in the handler instead.
    github_client_secret: t.Unknown({ type: "string", description: "The app's client secret; stored encrypted and never returned" }),
  },
  { additionalProperties: false },
);

/** What the API shows of a proxy's app: never the secret, only whether there is one. */
export function githubOAuthView(record: ProxyRecord) {
  return {
    hostname: record.hostname,
    github_client_id: record.github_client_id,
    github_client_secret_set: record.github_client_secret !== null,
  };
}

export function proxyGitHubOAuthRoutes(deps: { tokens: TokenRepository; proxies: ProxyRepository; githubApps: GitHubApps }) {
  const { proxies, githubApps } = deps;

  const visibleProxy = (caller: Caller, hostname: string) => visibleProxyOf(proxies, caller, hostname);

  // Registered before the /:hostname paths, and it has two fixed segments, so no hostname can shadow it.
  return new Elysia({ prefix: "/proxy/targets", tags: ["proxies"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get(
      "/github-oauth/configured",
      async ({ caller }) =>
        (await proxies.list()).filter((p) => p.github_client_id !== null && canSee(caller, p.owner_token_hash)).map(githubOAuthView),
      { detail: { summary: "The proxies the caller can see that have their own GitHub OAuth app" } },
    )
    .get("/:hostname/github-oauth", async ({ caller, params }) => githubOAuthView(await visibleProxy(caller, params.hostname)), {
      detail: { summary: "A proxy's GitHub OAuth app: the client ID and whether a secret is set" },
    })
    .get(
      "/:hostname/github-oauth/secret",
      async ({ caller, params, set }) => {
        const proxy = await visibleProxy(caller, params.hostname);
        // A cache (a proxy in between, the client's) must not keep the secret.
        set.headers["cache-control"] = "no-store";
        let secret: string | null;
        try {
          secret = githubApps.openSecret(proxy);
        } catch {
          throw conflict(`the GitHub client secret of ${proxy.hostname} does not open with this gateway's secrets key; configure the proxy's github-oauth again`);
        }
        return { hostname: proxy.hostname, github_client_id: proxy.github_client_id, github_client_secret: secret };
      },
      {
        detail: {
          summary: "A proxy's GitHub client secret, in clear: for its owner or the admin (export --include-secrets); each read is audited",
          description: "Answers `{hostname, github_client_id, github_client_secret}` (null when the proxy has no app of its own) with Cache-Control: no-store. Another token's proxy is a 404. The audit log records the read, never the value.",
        },
      },
    )
    .post(
      "/:hostname/github-oauth",
      async ({ body, caller, params }) => {
        const current = await visibleProxy(caller, params.hostname);
        const clientId = body.github_client_id.trim();
        if (!CLIENT_ID.test(clientId)) {
          throw invalid(`github_client_id: ${JSON.stringify(clientId.slice(0, 100))} is not a GitHub client ID (letters, digits, '.', '_', '-'; at most 100)`);
        }
        // The value is never echoed: a secret pasted into the wrong field must not come back in an error.
        const secret = body.github_client_secret;
        if (typeof secret !== "string" || !CLIENT_SECRET.test(secret)) {
          throw invalid("github_client_secret: expected the app's client secret: 1 to 255 printable characters without spaces");
        }
        const updated = await githubApps.configure(current.hostname, clientId, secret);
        if (!updated) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        return githubOAuthView(updated);
      },
      { body: ConfigureBody, detail: { summary: "Give a proxy its own GitHub OAuth app; its users log in through it" } },
    )
    .delete(
      "/:hostname/github-oauth",
      async ({ caller, params }) => {
        const current = await visibleProxy(caller, params.hostname);
        const updated = await githubApps.clear(current.hostname);
        if (!updated) throw notFound(`proxy ${JSON.stringify(params.hostname)}`);
        return githubOAuthView(updated);
      },
      { detail: { summary: "Remove a proxy's own GitHub OAuth app; its users log in through the default app again" } },
    );
}
