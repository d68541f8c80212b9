/**
 * Liveness and readiness. `/healthz` answers while the process runs; `/health`
 * also says whether Redis answers, and is 503 when it does not.
 */
import { Elysia, t } from "elysia";
import type { Redis } from "ioredis";
import { VERSION } from "../../core/version";

const PING_TIMEOUT_MS = 1_000;

async function redisAnswers(redis: Redis): Promise<boolean> {
  if (redis.status !== "ready") return false;
  const timeout = Bun.sleep(PING_TIMEOUT_MS).then(() => false);
  return Promise.race([redis.ping().then((r) => r === "PONG", () => false), timeout]);
}

export function healthRoutes(redis: Redis, startedAt: number) {
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
          uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
        };
      },
      { detail: { summary: "Gateway health: Redis reachability, version, uptime" } },
    )
    .get("/healthz", () => "ok", { response: t.String(), detail: { summary: "Liveness: the process answers" } });
}
