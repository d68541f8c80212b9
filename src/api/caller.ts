/**
 * Who is calling: resolves `Authorization: Bearer …` to an API token or a
 * cluster API key (credentials.ts). The lookup is by sha256 of the presented
 * secret, so timing reveals nothing about stored values; the final check is a
 * constant-time comparison.
 */
import { ApiError } from "../core/errors";
import type { TokenRecord, TokenRepository, TokenRole } from "../storage/token-repository";
import { credentialsFor } from "./credentials";

/** A token's role, or `cluster` for a cluster API key (docs/permissions.md). */
export type Principal = TokenRole | "cluster";

export interface Caller {
  readonly name: string;
  readonly hash: string;
  readonly role: Principal;
  /** Manages every record it may reach (the admin token, cluster keys): ownership checks pass. */
  readonly isAdmin: boolean;
  /** Reads every record (admin, cluster keys, viewers); service-owners read what they own. */
  readonly seesAll: boolean;
}

export function bearerToken(header: string | null): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Callers already authenticated, by request: the API checks the token before the body, the routes ask again. */
const known = new WeakMap<Request, Caller>();

/** `tokens` stands for every credential the API accepts: createApiApp registers cluster keys with it (credentials.ts). */
export async function authenticate(request: Request, tokens: TokenRepository): Promise<Caller> {
  const remembered = known.get(request);
  if (remembered) return remembered;
  const presented = bearerToken(request.headers.get("authorization"));
  if (!presented) throw new ApiError("unauthorized", "missing bearer token: send Authorization: Bearer <token>");
  const caller = await credentialsFor(tokens).resolve(presented);
  known.set(request, caller);
  return caller;
}

export function callerOf(record: TokenRecord): Caller {
  return { name: record.name, hash: record.hash, role: record.role, isAdmin: record.role === "admin", seesAll: record.role !== "service-owner" };
}

/** Those who see every record see it; others see what they own, and themselves. */
export function canSee(caller: Caller, ownerHash: string | null, resourceHash?: string): boolean {
  return caller.seesAll || ownerHash === caller.hash || resourceHash === caller.hash;
}
