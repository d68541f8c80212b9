/**
 * Liveness and readiness. `/healthz` answers while the process runs; `/health`
 * also says whether Redis answers (503 when it does not) and, when the gateway
 * gives it its sources, what an operator checks first: certificates, the HTTPS
 * listener, the renewal timer and this node's event-stream lag (health-details.ts).
 */
import { Elysia, t } from "elysia";
import type { Redis } from "ioredis";
import { VERSION } from "../../core/version";
import { healthDetails, type HealthSources } from "../health-details";

const PING_TIMEOUT_MS = 1_000;

async function redisAnswers(redis: Redis): Promise<boolean> {
  if (redis.status !== "ready") return false;
  const timeout = Bun.sleep(PING_TIMEOUT_MS).then(() => false);
  return Promise.race([redis.ping().then((r) => r === "PONG", () => false), timeout]);
}

export function healthRoutes(redis: Redis, startedAt: number, sources?: HealthSources, nodeId?: string) {
  return new Elysia({ tags: ["health"] })
    .get(
      "/health",
      async ({ set }) => {
        const redisOk = await redisAnswers(redis);
        if (!redisOk) set.status = 503;
        return {
          status: redisOk ? ("healthy" as const) : ("degraded" as const),
          redis: redisOk ? ("ok" as const) : ("unreachable" as const),
          version: VERSION,
          // Behind a load balancer, which node answered (its entry in /api/v1/cluster/nodes).
          ...(nodeId !== undefined && { node_id: nodeId }),
          uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
          ...(sources && (await healthDetails(sources, redisOk ? redis : null))),
        };
      },
      {
        detail: {
          summary:
            "Gateway health: Redis reachability, version, uptime; certificates served (count, soonest expiry), HTTPS listener, renewal timer (last and next run), event-stream lag of this node",
        },
      },
    )
    .get("/healthz", () => "ok", { response: t.String(), detail: { summary: "Liveness: the process answers" } });
}
