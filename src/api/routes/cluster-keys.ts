/**
 * /api/v1/cluster/keys — cluster API keys (000 manager "API key generation
 * and management"): what nodes and automation authenticate with. The admin
 * creates, lists and deletes them (permissions.ts); the key is shown once, in
 * the creation's answer, and only its sha256 is stored. Listings show a
 * preview (the first characters), never the key.
 */
import { Elysia, t } from "elysia";
import { randomBytes } from "node:crypto";
import { hashApiToken } from "../../core/api-token";
import { CLUSTER_NAME_PATTERN, type ClusterSettings } from "../../core/cluster-config";
import { ApiError, conflict, forbidden, invalid, notFound } from "../../core/errors";
import type { ClusterKeyRecord, ClusterKeyRepository } from "../../storage/cluster-key-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate } from "../caller";

export const CLUSTER_KEY_PREFIX = "pck_";
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const CreateBody = t.Object(
  {
    name: t.String({ description: "Unique name: letters, digits, `_`, `.`, `-`; at most 64 characters" }),
    cluster: t.Optional(t.String({ description: "The cluster (CLUSTER_NAME) the key works on; default this gateway's" })),
  },
  { additionalProperties: false },
);

const KeyView = t.Object({
  name: t.String(),
  key_preview: t.String(),
  cluster: t.String(),
  created_at: t.String(),
  created_by: t.String(),
});

function keyView(record: ClusterKeyRecord) {
  return { name: record.name, key_preview: record.preview, cluster: record.cluster, created_at: record.created_at, created_by: record.created_by };
}

export function clusterKeyRoutes(deps: { tokens: TokenRepository; clusterKeys: ClusterKeyRepository; cluster: ClusterSettings }) {
  const { clusterKeys } = deps;
  // The table already refuses everyone else; a second check keeps key management the admin's if the table ever changed by mistake.
  const adminCaller = async (request: Request) => {
    const caller = await authenticate(request, deps.tokens);
    if (caller.role !== "admin") throw forbidden("cluster API keys are managed with the admin token");
    return caller;
  };

  return new Elysia({ prefix: "/cluster/keys", tags: ["cluster"] })
    .get("/", async ({ request }) => (await adminCaller(request), (await clusterKeys.list()).map(keyView)), {
      response: t.Array(KeyView),
      detail: { summary: "List the cluster API keys (admin only; previews, never the keys)" },
    })
    .post(
      "/",
      async ({ request, body, set }) => {
        const caller = await adminCaller(request);
        if (!KEY_NAME.test(body.name)) throw invalid("name: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit");
        const cluster = body.cluster ?? deps.cluster.name;
        if (!CLUSTER_NAME_PATTERN.test(cluster)) throw invalid("cluster: use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit");
        const key = CLUSTER_KEY_PREFIX + randomBytes(32).toString("hex");
        const record: ClusterKeyRecord = {
          name: body.name,
          hash: hashApiToken(key),
          preview: key.slice(0, CLUSTER_KEY_PREFIX.length + 6) + "…",
          cluster,
          created_at: new Date().toISOString(),
          created_by: caller.name,
        };
        const result = await clusterKeys.create(record);
        if (result === "name_taken") throw conflict(`a cluster key named ${JSON.stringify(body.name)} already exists`);
        if (result !== "ok") throw new ApiError("internal_error", "key generation collided; retry");
        set.status = 201;
        set.headers["cache-control"] = "no-store";
        return { ...keyView(record), key };
      },
      {
        body: CreateBody,
        response: { 201: t.Composite([KeyView, t.Object({ key: t.String() })]) },
        detail: { summary: "Create a cluster API key (admin only); the answer holds the key, shown this once" },
      },
    )
    .delete(
      "/:name",
      async ({ request, params }) => {
        await adminCaller(request);
        const deleted = await clusterKeys.delete(params.name);
        if (!deleted) throw notFound(`cluster key ${JSON.stringify(params.name.slice(0, 64))}`);
        return { deleted: deleted.name };
      },
      { response: t.Object({ deleted: t.String() }), detail: { summary: "Delete a cluster API key (admin only): it stops working at once on every node" } },
    );
}
