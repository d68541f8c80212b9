/**
 * Who is calling: resolves `Authorization: Bearer acm_…` to a token record.
 * The lookup is by sha256 of the presented token, so timing reveals nothing
 * about stored values; the final check is a constant-time comparison.
 */
import { hashApiToken, secretsEqual } from "../core/api-token";
import { ApiError } from "../core/errors";
import type { TokenRecord, TokenRepository } from "../storage/token-repository";

export interface Caller {
  readonly name: string;
  readonly hash: string;
  readonly isAdmin: boolean;
}

export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Callers already authenticated, by request: the API checks the token before the body, the routes ask again. */
const known = new WeakMap<Request, Caller>();

export async function authenticate(request: Request, tokens: TokenRepository): Promise<Caller> {
  const remembered = known.get(request);
  if (remembered) return remembered;
  const caller = await lookUp(request, tokens);
  known.set(request, caller);
  return caller;
}

async function lookUp(request: Request, tokens: TokenRepository): Promise<Caller> {
  const presented = bearerToken(request.headers.get("authorization"));
  if (!presented) throw new ApiError("unauthorized", "missing bearer token: send Authorization: Bearer <token>");
  const hash = hashApiToken(presented);
  const record = await tokens.getByHash(hash);
  if (!record || !secretsEqual(record.token, presented)) throw new ApiError("unauthorized", "invalid or revoked token");
  return callerOf(record);
}

export function callerOf(record: TokenRecord): Caller {
  return { name: record.name, hash: record.hash, isAdmin: record.role === "admin" };
}

/** Admins see everything; others see what they own, and themselves. */
export function canSee(caller: Caller, ownerHash: string | null, resourceHash?: string): boolean {
  return caller.isAdmin || ownerHash === caller.hash || resourceHash === caller.hash;
}
