/**
 * /api/v1/logs/oauth — the OAuth flow trace: sign-ins step by step, found by
 * client, user or address, and one flow by its id. Admin only: a sign-in's
 * steps span the authorization server and every proxy it signs in for, so no
 * single proxy owner owns them.
 */
import { Elysia, t } from "elysia";
import type { Redis } from "ioredis";
import { FLOW_ID } from "../../consumers/oauth-events/event";
import { findFlow, findFlows } from "../../consumers/oauth-events/query";
import { forbidden, invalid, notFound } from "../../core/errors";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate } from "../caller";
import { allows } from "../permissions";

export interface OAuthLogRouteDeps {
  readonly redis: Redis;
  readonly tokens: TokenRepository;
}

export const OAUTH_LOG_MAX_HOURS = 24 * 366;
export const OAUTH_LOG_MAX_LIMIT = 500;

const QUERY = t.Object({
  client_id: t.Optional(t.String({ minLength: 1, maxLength: 300, description: "Flows of this OAuth client" })),
  user: t.Optional(t.String({ minLength: 1, maxLength: 100, description: "Flows of this user (e.g. a GitHub login; case-insensitive)" })),
  ip: t.Optional(t.String({ pattern: "^[0-9A-Fa-f:.]{2,45}$", description: "Flows from this client address" })),
  hours: t.Optional(t.String({ description: "How far back, in hours (default 24)" })),
  limit: t.Optional(t.String({ description: `Flows at most (default 50, at most ${OAUTH_LOG_MAX_LIMIT})` })),
});

/** A whole number in [1, max] from a query parameter, or the fallback when absent. */
export function wholeParam(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > max) throw invalid(`${name}: expected a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`);
  return value;
}

export function oauthLogRoutes(deps: OAuthLogRouteDeps) {
  return new Elysia({ prefix: "/logs", tags: ["logs"] })
    .onBeforeHandle(async ({ request }) => {
      if (!allows(await authenticate(request, deps.tokens), "GET /api/v1/logs/oauth")) throw forbidden("the OAuth flow log needs the admin token or a viewer token");
    })
    .get(
      "/oauth",
      async ({ query }) => {
        const flows = await findFlows(deps.redis, {
          clientId: query.client_id,
          user: query.user,
          ip: query.ip,
          hours: wholeParam("hours", query.hours, 24, OAUTH_LOG_MAX_HOURS),
          limit: wholeParam("limit", query.limit, 50, OAUTH_LOG_MAX_LIMIT),
        });
        return { flows, count: flows.length };
      },
      {
        query: QUERY,
        detail: {
          summary: "OAuth sign-ins, step by step (admin)",
          description:
            "Flows newest first, each with its steps in order (authorize, upstream redirect, callback, identity, allowlist, consent, code, token, refresh, revoke, registration) and how it ended: outcome ok, refused or error, with the reason of the first refusal. Filters combine. Events hold no secrets.",
        },
      },
    )
    .get(
      "/oauth/flow/:flow_id",
      async ({ params }) => {
        if (!FLOW_ID.test(params.flow_id)) throw invalid("flow_id: expected 32 hexadecimal characters");
        const flow = await findFlow(deps.redis, params.flow_id);
        if (!flow) throw notFound(`OAuth flow ${params.flow_id}`);
        return flow;
      },
      { detail: { summary: "One OAuth sign-in by its flow id (admin)" } },
    );
}
