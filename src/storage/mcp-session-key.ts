/**
 * The key that seals MCP session ids (src/mcp/session-seal.ts), shared by
 * every node on this Redis: the first node to start makes it, the others
 * read it. It lives in Redis beside the token signing keys rather than in
 * a data dir, because nodes of one cluster may have separate data dirs and
 * each must open the ids the others hand out. Whoever can read it could
 * also rewrite a proxy's target_url there, so it opens no new way in.
 */
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { SESSION_KEY_BYTES } from "../mcp/session-seal";
import { keys } from "./keys";

/** Read at start, before any listener: the edge never asks Redis for it. */
export async function loadMcpSessionKey(redis: Redis): Promise<Uint8Array> {
  // NX: of two nodes starting together, the first write wins and both read it back.
  await redis.set(keys.mcpSessionKey, randomBytes(SESSION_KEY_BYTES).toString("base64url"), "NX");
  const stored = await redis.get(keys.mcpSessionKey);
  const key = stored === null ? null : Buffer.from(stored, "base64url");
  if (key === null || key.length !== SESSION_KEY_BYTES || key.toString("base64url") !== stored) {
    throw new Error(`Redis key ${keys.mcpSessionKey} does not hold a ${SESSION_KEY_BYTES}-byte key (base64url); delete it and start again (open MCP sessions then re-initialize)`);
  }
  return new Uint8Array(key);
}
