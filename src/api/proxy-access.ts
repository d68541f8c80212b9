/**
 * The proxy a caller names in a path: found only if the caller may see it
 * (admins every proxy, others their own), else 404 — the same answer as for a
 * proxy that does not exist, so names of other tokens' proxies do not leak.
 */
import { t } from "elysia";
import { notFound } from "../core/errors";
import type { ProxyRecord, ProxyRepository } from "../storage/proxy-repository";
import { canSee, type Caller } from "./caller";

export const HostnameParams = t.Object({ hostname: t.String({ maxLength: 253 }) });

export async function visibleProxy(proxies: ProxyRepository, caller: Caller, hostname: string): Promise<ProxyRecord> {
  const record = await proxies.get(hostname.toLowerCase());
  if (!record || !canSee(caller, record.owner_token_hash)) throw notFound(`proxy ${JSON.stringify(hostname)}`);
  return record;
}

/** Checks visibility, then applies `change` to the stored record in one transaction. */
export async function updateVisibleProxy(
  proxies: ProxyRepository,
  caller: Caller,
  hostname: string,
  change: (stored: ProxyRecord) => ProxyRecord,
): Promise<ProxyRecord> {
  const current = await visibleProxy(proxies, caller, hostname);
  const updated = await proxies.update(current.hostname, change);
  if (!updated) throw notFound(`proxy ${JSON.stringify(hostname)}`);
  return updated;
}

/**
 * One group of a proxy's settings (auth_*, resource_*, oauth_server_*) as the
 * API shows it: the stored value, or the group's default where none is stored.
 */
export function settingsWithDefaults<K extends keyof ProxyRecord>(proxy: ProxyRecord, names: readonly K[], defaults: Pick<ProxyRecord, K>): Pick<ProxyRecord, K> {
  return Object.fromEntries(names.map((name) => [name, proxy[name] ?? defaults[name]])) as Pick<ProxyRecord, K>;
}
