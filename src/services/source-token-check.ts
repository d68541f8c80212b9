/**
 * The source-token check of a token port (docs/services.md "Source tokens"),
 * pure: headers in, a verdict out. A client presents the token as
 * `X-Source-Token: <token>` or `Authorization: Bearer <token>`; it is compared
 * with the stored `sha256:<hex>` in constant time, digest against digest, so
 * neither the token's length nor its first differing byte shows in the timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** The header a client may carry the token in instead of Authorization. */
export const SOURCE_TOKEN_HEADER = "x-source-token";

export type SourceTokenVerdict =
  | { readonly ok: true; /** Authorization carried the source token, so it is not forwarded. */ readonly dropAuthorization: boolean }
  | { readonly ok: false; readonly detail: string };

interface HeaderSource {
  get(name: string): string | null;
}

/** The digest of a stored `sha256:<hex>` hash; null when it is not one. */
export function storedDigest(hash: string): Buffer | null {
  if (!/^sha256:[0-9a-f]{64}$/.test(hash)) return null;
  return Buffer.from(hash.slice(7), "hex");
}

/** Whether `presented` hashes to `digest`, in time that does not depend on where they differ. */
export function tokenMatches(presented: string, digest: Buffer): boolean {
  const candidate = createHash("sha256").update(presented).digest();
  return candidate.length === digest.length && timingSafeEqual(candidate, digest);
}

/** The token after "Bearer " (scheme case-insensitive, RFC 9110 §11.1), or null. */
export function bearerToken(authorization: string | null): string | null {
  if (authorization === null) return null;
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match ? match[1]! : null;
}

/**
 * Decides one request. X-Source-Token is tried first, then a Bearer
 * Authorization; either matching lets the request through. Authorization is
 * dropped before forwarding only when it carried the source token: otherwise
 * it belongs to the backend's own authentication and goes on.
 */
export function checkSourceToken(headers: HeaderSource, digest: Buffer): SourceTokenVerdict {
  const viaHeader = headers.get(SOURCE_TOKEN_HEADER);
  const viaBearer = bearerToken(headers.get("authorization"));
  if (viaHeader === null && viaBearer === null) {
    return { ok: false, detail: "this port requires its source token: send it as X-Source-Token: <token> or Authorization: Bearer <token>" };
  }
  // Every value presented is hashed, so the answer's timing does not tell which header was right.
  const headerOk = viaHeader !== null && tokenMatches(viaHeader, digest);
  const bearerOk = viaBearer !== null && tokenMatches(viaBearer, digest);
  if (headerOk || bearerOk) return { ok: true, dropAuthorization: bearerOk };
  return { ok: false, detail: "the source token presented is not this port's" };
}

/** 401 with a challenge (RFC 9110 §11.6.1): the container never sees the request. */
export function sourceTokenRefusal(detail: string): Response {
  return Response.json(
    { error: "unauthorized", detail },
    { status: 401, headers: { "www-authenticate": 'Bearer realm="portcullis source token"', "x-content-type-options": "nosniff", "cache-control": "no-store" } },
  );
}

/** A port the gateway's relay serves: a tcp port with a source token (the engine publishes it on loopback only). */
export function isTokenPort(allocation: { readonly source_token_hash: string | null; readonly protocol: string }): boolean {
  return allocation.source_token_hash !== null && allocation.protocol === "tcp";
}
