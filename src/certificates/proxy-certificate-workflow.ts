/**
 * A new proxy's certificate, as work claimed once in the cluster: the API
 * plans it (proxy-certificates.ts) and writes the plan into the proxy's
 * `proxy_created` event, in the proxy's own transaction; the one node whose
 * workflow consumer claims the event signs it from the local CA or queues
 * the ACME request. A proxy stored is therefore never left without its
 * certificate by a node that stopped in between.
 *
 * Idempotent: a certificate is signed only if its name is free (the store
 * refuses a second one), and an ACME request is queued only if none exists or
 * is in progress, with the event's done marker in the request's transaction.
 */
import type { Logger } from "../core/logger";
import type { WorkflowHandler } from "../orchestration/workflow-consumer";
import type { ProxyRepository } from "../storage/proxy-repository";
import type { CertificateManager } from "./certificate-manager";

/** What `proxy_created` carries under `certificate` when the proxy needs one. */
export type ProxyCertificateWork =
  | { readonly issuer: "local-ca"; readonly cert_name: string }
  | { readonly issuer: "acme"; readonly cert_name: string; readonly email: string | null; readonly staging: boolean };

/** The event's `certificate` field as written by proxyCertificateWork, or null for anything else. */
export function readProxyCertificateWork(raw: unknown): ProxyCertificateWork | null {
  if (!raw || typeof raw !== "object") return null;
  const work = raw as Record<string, unknown>;
  if (typeof work.cert_name !== "string" || work.cert_name === "") return null;
  if (work.issuer === "local-ca") return { issuer: "local-ca", cert_name: work.cert_name };
  if (work.issuer !== "acme") return null;
  return {
    issuer: "acme",
    cert_name: work.cert_name,
    email: typeof work.email === "string" ? work.email : null,
    staging: work.staging === true,
  };
}

export function proxyCertificateHandler(deps: { proxies: ProxyRepository; manager: CertificateManager; log: Logger }): WorkflowHandler {
  return async (event, context) => {
    const work = readProxyCertificateWork(event.data.certificate);
    if (!work || !event.hostname) return;
    const proxy = await deps.proxies.get(event.hostname);
    // Deleted, HTTPS turned off or another certificate named meanwhile: nothing is wanted any more.
    if (!proxy || !proxy.enable_https || proxy.cert_name !== work.cert_name) return;
    if (work.issuer === "local-ca") {
      await deps.manager.issueLocal(work.cert_name, [proxy.hostname], proxy.owner_token_hash);
      return;
    }
    const outcome = await deps.manager.requestAcme(
      { cert_name: work.cert_name, domains: [proxy.hostname], email: work.email, staging: work.staging, key_type: "rsa", owner_token_hash: proxy.owner_token_hash },
      context.markDone,
    );
    if (!outcome.queued) deps.log.debug({ cert_name: work.cert_name, reason: outcome.reason }, "proxy certificate already requested");
  };
}
