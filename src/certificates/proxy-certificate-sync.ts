/**
 * Keeps each proxy's `cert_name` naming the certificate that actually serves
 * its hostname. Which certificate serves a name is the domain index's choice
 * (the one written last that lists it, certificate-repository.ts); a proxy
 * follows it when a certificate is stored and lets go when one is deleted.
 * `proxyCertificateState` is what listings show: a certificate that exists,
 * or where its issuance stands.
 */
import type { CertificateRecord, CertificateRepository } from "../storage/certificate-repository";
import type { ProxyRecord, ProxyRepository } from "../storage/proxy-repository";
import type { StatusStore } from "./status-store";

/** True when `domains` (exact or one-label wildcards) include `hostname`. */
export function covers(domains: readonly string[], hostname: string): boolean {
  const host = hostname.toLowerCase();
  const dot = host.indexOf(".");
  const wildcard = dot > 0 && !host.startsWith("*.") ? "*" + host.slice(dot) : null;
  return domains.some((d) => d === host || d === wildcard);
}

/**
 * The first of `domains` that would serve a proxy `isMine` rejects: the
 * proxy's hostname itself, a wildcard covering it, or a name its wildcard
 * covers. A certificate for it would take over that proxy's HTTPS (the domain
 * index gives a name to the certificate stored last), so only its owner or
 * the admin may create one.
 */
export async function foreignProxyName(
  proxies: ProxyRepository,
  domains: readonly string[],
  isMine: (proxy: ProxyRecord) => boolean,
): Promise<{ domain: string } | null> {
  const others = (await proxies.list()).filter((p) => !isMine(p));
  for (const domain of domains) {
    for (const proxy of others) {
      if (domain === proxy.hostname || covers([domain], proxy.hostname) || covers([proxy.hostname], domain)) return { domain };
    }
  }
  return null;
}

/** HTTPS proxies whose hostname `record` now serves point at it; returns their hostnames. */
export async function adoptCertificate(proxies: ProxyRepository, certificates: CertificateRepository, record: CertificateRecord): Promise<string[]> {
  const adopted: string[] = [];
  for (const proxy of await proxies.list()) {
    if (!proxy.enable_https || proxy.cert_name === record.cert_name || !covers(record.domains, proxy.hostname)) continue;
    // Another certificate written after this one may hold the name: the index decides.
    if ((await certificates.getByDomain(proxy.hostname))?.cert_name !== record.cert_name) continue;
    const updated = await proxies.update(proxy.hostname, (current) => ({ ...current, cert_name: record.cert_name }));
    if (updated) adopted.push(proxy.hostname);
  }
  return adopted;
}

/** The proxies `name` serves: those naming it, and HTTPS proxies whose hostname the domain index gives it. */
export async function proxiesServedBy(proxies: ProxyRepository, certificates: CertificateRepository, name: string): Promise<ProxyRecord[]> {
  const all = await proxies.list();
  const candidates = (host: string) => {
    const dot = host.indexOf(".");
    return [host, ...(dot > 0 && !host.startsWith("*.") ? ["*" + host.slice(dot)] : [])];
  };
  const https = all.filter((p) => p.enable_https);
  const owners = await certificates.domainOwners([...new Set(https.flatMap((p) => candidates(p.hostname)))]);
  // As getByDomain: the exact entry first, else the wildcard one label up.
  const servedBy = (host: string) => candidates(host).map((c) => owners.get(c)).find((owner) => owner !== undefined);
  return all.filter((p) => p.cert_name === name || (p.enable_https && servedBy(p.hostname) === name));
}

/** After `name` is deleted: proxies naming it take whatever serves their hostname now, or none. */
export async function releaseCertificate(proxies: ProxyRepository, certificates: CertificateRepository, name: string): Promise<void> {
  for (const proxy of await proxies.list()) {
    if (proxy.cert_name !== name) continue;
    const successor = proxy.enable_https ? ((await certificates.getByDomain(proxy.hostname))?.cert_name ?? null) : null;
    await proxies.update(proxy.hostname, (current) => (current.cert_name === name ? { ...current, cert_name: successor } : current));
  }
}

/**
 * What a proxy's certificate column says: the name of a certificate that
 * exists, `pending` while one is being issued, `failed: <reason>` when its
 * issuance failed, or null (HTTPS off, or served with the default certificate).
 */
export async function proxyCertificateState(
  proxy: Pick<ProxyRecord, "hostname" | "cert_name" | "enable_https">,
  certificates: CertificateRepository,
  statuses: StatusStore,
): Promise<string | null> {
  if (proxy.cert_name) {
    if (await certificates.get(proxy.cert_name)) return proxy.cert_name;
    const status = await statuses.get(proxy.cert_name);
    if (status?.status === "pending" || status?.status === "issuing") return "pending";
    if (status?.status === "failed") {
      const reason = typeof status.error?.detail === "string" ? status.error.detail : status.message;
      return `failed: ${reason}${status.retry_at ? ` (retrying at ${status.retry_at})` : ""}`;
    }
  }
  if (!proxy.enable_https) return null;
  return (await certificates.getByDomain(proxy.hostname))?.cert_name ?? null;
}
