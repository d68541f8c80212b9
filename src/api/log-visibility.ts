/**
 * Which request records a caller may read: the admin, viewers and cluster
 * keys every record (also those no proxy took: unknown hosts, the API
 * itself); a service-owner only
 * records of the proxies it owns, by the record's `proxy` field.
 */
import type { RequestRecord } from "../consumers/request-log/record";
import type { ProxyRepository } from "../storage/proxy-repository";
import type { Caller } from "./caller";

export interface LogVisibility {
  /** Absent: everything is visible. */
  readonly record?: (record: RequestRecord) => boolean;
  /** For the hourly counters, whose host fields are `proxy ?? host`. */
  readonly host?: (host: string) => boolean;
  /** True when the caller can see nothing at all (a token owning no proxy). */
  readonly nothing: boolean;
  /** The hosts every visible record was asked for: the caller's proxies when none is a wildcard (`*.example.com` covers hosts no list names). */
  readonly hosts?: readonly string[];
}

export async function logVisibility(caller: Caller, proxies: ProxyRepository): Promise<LogVisibility> {
  if (caller.seesAll) return { nothing: false };
  const owned = new Set((await proxies.list()).filter((p) => p.owner_token_hash === caller.hash).map((p) => p.hostname));
  return {
    record: (record) => record.proxy !== undefined && owned.has(record.proxy),
    host: (host) => owned.has(host),
    nothing: owned.size === 0,
    hosts: [...owned].some((hostname) => hostname.startsWith("*.")) ? undefined : [...owned],
  };
}
