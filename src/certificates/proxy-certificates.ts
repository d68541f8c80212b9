/**
 * "Smart certificate handling" for a new proxy: reuse a certificate that
 * already covers the hostname (exact or wildcard), else have the local CA
 * sign one at once (internal names, internal-names.ts) or request one from ACME
 * — done by the workflow consumer that claims the proxy's `proxy_created`
 * event (proxy-certificate-workflow.ts).
 * The proxy serves HTTP at once and HTTPS with the default certificate until
 * the issued one is stored; its `certificate_ready` event then makes every
 * node serve it, with no restart.
 */
import type { CertificateRepository } from "../storage/certificate-repository";
import type { CertificateManager } from "./certificate-manager";

export type ProxyCertificatePlan =
  | { readonly kind: "none" }
  | { readonly kind: "reuse"; readonly cert_name: string }
  | { readonly kind: "local"; readonly cert_name: string }
  | { readonly kind: "request"; readonly cert_name: string };

/** The name a certificate requested for a proxy gets. */
export const proxyCertificateName = (hostname: string) => `proxy-${hostname.replace(/^\*\./, "wildcard.").replace(/\./g, "-")}`;

/**
 * What a new proxy's certificate will be. Nothing for HTTPS-off proxies or
 * when AUTO_CERTIFICATES is off. Internal names (`mcp.test`, `*.app.localhost`,
 * single labels) get one from the local CA unless ACME_INTERNAL_NAMES sends
 * them to ACME; ACME gets no wildcard (HTTP-01 cannot prove one) and no single label.
 */
export async function planProxyCertificate(
  proxy: { readonly hostname: string; readonly enable_https: boolean },
  certificates: CertificateRepository,
  settings: { readonly autoCertificates: boolean },
  issuerFor: CertificateManager["issuerFor"],
): Promise<ProxyCertificatePlan> {
  if (!proxy.enable_https) return { kind: "none" };
  const covering = await certificates.getByDomain(proxy.hostname);
  if (covering) return { kind: "reuse", cert_name: covering.cert_name };
  if (!settings.autoCertificates) return { kind: "none" };
  const name = proxyCertificateName(proxy.hostname);
  // The name is taken by a certificate for other names: nothing to reuse, nothing to request under it.
  if (await certificates.get(name)) return { kind: "none" };
  if (issuerFor([proxy.hostname]).kind === "local-ca") return { kind: "local", cert_name: name };
  if (proxy.hostname.startsWith("*.") || !proxy.hostname.includes(".")) return { kind: "none" };
  return { kind: "request", cert_name: name };
}
