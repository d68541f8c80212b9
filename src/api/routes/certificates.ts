/**
 * /api/v1/certificates — ACME certificates issued asynchronously (202 and a
 * status URL), internal names signed at once by the local CA, self-signed ones
 * on request, the local CA's root, renewal and deletion (spec "Certificate Manager"). The admin sees every certificate; other tokens see
 * what they own. Private keys are shown only when asked for (`?pem=true`).
 */
import { Elysia, t } from "elysia";
import { conflict, forbidden, invalid, notFound } from "../../core/errors";
import type { CertificateManager } from "../../certificates/certificate-manager";
import { inProgress } from "../../certificates/certificate-requests";
import { foreignProxyName, proxiesServedBy } from "../../certificates/proxy-certificate-sync";
import type { CertificateStatus } from "../../certificates/status-store";
import type { CertificateRecord, CertificateRepository } from "../../storage/certificate-repository";
import type { ProxyRepository } from "../../storage/proxy-repository";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate, canSee, type Caller } from "../caller";
import { allowedDirectory } from "../schemas/acme-directory";
import { CertificateCreateBody, checkCertificateRequest, MultiDomainCreateBody, type CheckedCertificateRequest } from "../schemas/certificate";
import { readsSecrets } from "../permissions";

/** What a listing shows: no PEMs at all. */
export function certificateSummary(record: CertificateRecord) {
  const { fullchain_pem, private_key_pem, ...summary } = record;
  return summary;
}

/** One certificate: the chain always, the private key only on request. */
export function certificateView(record: CertificateRecord, withKey: boolean) {
  const { private_key_pem, ...view } = record;
  return withKey ? record : view;
}

const statusView = ({ owner_token_hash, request_id, ...status }: CertificateStatus) => status;
const statusUrl = (name: string) => `/api/v1/certificates/${encodeURIComponent(name)}/status`;

const NameParams = t.Object({ name: t.String() });

export function certificateRoutes(deps: {
  tokens: TokenRepository;
  proxies: ProxyRepository;
  certificates: CertificateRepository;
  certificateManager: CertificateManager;
}) {
  const { certificates, certificateManager: manager } = deps;

  const visibleCertificate = async (caller: Caller, name: string): Promise<CertificateRecord> => {
    const record = await certificates.get(name);
    if (!record || !canSee(caller, record.owner_token_hash)) throw notFound(`certificate ${JSON.stringify(name)}`);
    return record;
  };

  /** The ACME contact: the request's, else the token's cert_email, else ADMIN_EMAIL. */
  const contactFor = async (caller: Caller, email: string | null | undefined) =>
    email ?? (await deps.tokens.getByHash(caller.hash))?.cert_email ?? manager.adminEmail;

  const create = async (caller: Caller, request: CheckedCertificateRequest, set: { status?: number | string }) => {
    if (!caller.isAdmin) {
      const foreign = await foreignProxyName(deps.proxies, request.domains, (p) => canSee(caller, p.owner_token_hash));
      // The other proxy's hostname is not named: this caller may not see it.
      if (foreign) throw forbidden(`domains: ${foreign.domain} would serve a proxy another token owns; its owner or the admin may create this certificate`);
    }
    // Checked first: a directory nobody allowed is refused whatever the names.
    const directory = request.acme_directory_url === undefined ? undefined : allowedDirectory(request.acme_directory_url, manager.settings.allowedDirectoryUrls);
    // Naming a directory asks for ACME (a private CA may issue internal names); otherwise the names decide.
    const issuer = !request.acme ? null : directory !== undefined ? ({ kind: "acme" } as const) : manager.issuerFor(request.domains);
    if (issuer?.kind === "mixed") {
      throw invalid(
        `domains: ${issuer.internal.join(", ")} cannot be issued by a public CA (internal names get a certificate from the gateway's local CA); request them in a certificate of their own`,
      );
    }
    const wildcard = request.domains.find((d) => d.startsWith("*."));
    if (issuer?.kind === "acme" && wildcard) {
      throw invalid(`domains: ${wildcard} needs a DNS-01 challenge, and this gateway answers HTTP-01 only; list the host names, or use "acme": false`);
    }
    if (!request.acme || issuer?.kind === "local-ca") {
      const status = await manager.statuses.get(request.cert_name);
      if (status && inProgress(status)) throw conflict(`certificate ${request.cert_name} is already being issued; see ${statusUrl(request.cert_name)}`);
      const record = request.acme
        ? await manager.issueLocal(request.cert_name, request.domains, caller.hash)
        : await manager.createSelfSigned(request.cert_name, request.domains, caller.hash);
      if (!record) throw conflict(`a certificate named ${request.cert_name} already exists`);
      set.status = 201;
      return certificateView(record, false);
    }
    const outcome = await manager.requestAcme({
      cert_name: request.cert_name,
      domains: request.domains,
      email: await contactFor(caller, request.email),
      staging: request.staging,
      directory_url: directory,
      key_type: request.key_type,
      owner_token_hash: caller.hash,
    });
    if (!outcome.queued) {
      throw conflict(
        outcome.reason === "in_progress"
          ? `certificate ${request.cert_name} is already being issued; see ${statusUrl(request.cert_name)}`
          : `a certificate named ${request.cert_name} already exists`,
      );
    }
    set.status = 202;
    return {
      cert_name: request.cert_name,
      domains: request.domains,
      status: "pending",
      acme_directory_url: outcome.job.directory_url,
      status_url: statusUrl(request.cert_name),
      message: `issuance queued with ${outcome.job.directory_url}; poll the status URL`,
    };
  };

  return new Elysia({ prefix: "/certificates", tags: ["certificates"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, deps.tokens) }))
    .get("/", async ({ caller }) => (await certificates.list()).filter((c) => canSee(caller, c.owner_token_hash)).map(certificateSummary), {
      detail: { summary: "List the certificates the caller can see (without PEMs)" },
    })
    // Before /:name, which "root" would otherwise match (no certificate may be named so).
    .get("/root", async () => manager.localCa.root(), {
      detail: {
        summary: "The local CA's root certificate (PEM, subject, SHA-256 fingerprint, validity), for clients to trust; any token. Made on first use.",
      },
    })
    .post("/", ({ body, caller, set }) => create(caller, checkCertificateRequest(body), set), {
      body: CertificateCreateBody,
      detail: { summary: "Request a certificate for one domain: 202 and a status URL (ACME), or 201 (an internal name: the local CA; acme: false: self-signed)" },
    })
    .post("/multi-domain", ({ body, caller, set }) => create(caller, checkCertificateRequest(body), set), {
      body: MultiDomainCreateBody,
      detail: { summary: "Request one certificate for up to 100 domains (all public: ACME; all internal: the local CA)" },
    })
    .get(
      "/:name",
      async ({ caller, params, query }) => {
        const record = await visibleCertificate(caller, params.name);
        // The private key is a secret: the owner and the admin only (docs/permissions.md).
        if (query.pem === "true" && !readsSecrets(caller)) throw forbidden(`pem=true (the private key) is not for ${caller.role === "cluster" ? "cluster API keys" : "viewer tokens"}`);
        return certificateView(record, query.pem === "true");
      },
      {
        params: NameParams,
        query: t.Object({ pem: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])) }),
        detail: { summary: "One certificate with its chain; ?pem=true adds the private key" },
      },
    )
    .get(
      "/:name/status",
      async ({ caller, params }) => {
        const status = await manager.statuses.get(params.name);
        const record = await certificates.get(params.name);
        const visible = record ? canSee(caller, record.owner_token_hash) : status !== null && canSee(caller, status.owner_token_hash);
        if (!visible) throw notFound(`certificate ${JSON.stringify(params.name)}`);
        if (status) return statusView(status);
        // Finished long ago (the status expired) or never issued here: the certificate speaks for itself.
        return {
          cert_name: record!.cert_name,
          status: "ready",
          operation: "issue",
          domains: record!.domains,
          message: `valid until ${record!.expires_at}`,
          error: null,
          attempts: 0,
          retry_at: null,
          updated_at: null,
        };
      },
      { params: NameParams, detail: { summary: "Progress of the latest issuance or renewal; ACME problems verbatim in `error`" } },
    )
    .post(
      "/:name/renew",
      async ({ caller, params, set }) => {
        const record = await visibleCertificate(caller, params.name);
        if (record.issuer === "local-ca") {
          const reissued = await manager.reissueLocal(record);
          if (!reissued) throw notFound(`certificate ${JSON.stringify(params.name)}`);
          return certificateView(reissued, false);
        }
        if (!record.acme_directory_url) {
          const remade = await manager.remakeSelfSigned(record);
          if (!remade) throw notFound(`certificate ${JSON.stringify(params.name)}`);
          return certificateView(remade, false);
        }
        const outcome = await manager.requests.renew(record);
        if (!outcome.queued) {
          if (outcome.reason === "missing") throw notFound(`certificate ${JSON.stringify(params.name)}`);
          throw conflict(`certificate ${record.cert_name} is already being issued or renewed; see ${statusUrl(record.cert_name)}`);
        }
        set.status = 202;
        return { cert_name: record.cert_name, status: "pending", status_url: statusUrl(record.cert_name), message: "renewal queued" };
      },
      { params: NameParams, detail: { summary: "Renew now: 202 for ACME certificates, a new local-CA or self-signed one at once otherwise" } },
    )
    .delete(
      "/:name",
      async ({ caller, params, query }) => {
        const stored = await certificates.get(params.name);
        if (!stored) {
          // No certificate yet: deleting the request cancels it (queued job dropped, a running issuance's result discarded).
          const status = await manager.statuses.get(params.name);
          if (!status || !canSee(caller, status.owner_token_hash) || !(await manager.cancel(params.name, status))) {
            throw notFound(`certificate ${JSON.stringify(params.name)}`);
          }
          return { deleted: params.name, cancelled: inProgress(status) };
        }
        const record = await visibleCertificate(caller, params.name);
        const users = await proxiesServedBy(deps.proxies, certificates, record.cert_name);
        if (users.length > 0 && query.force !== "true") {
          // Name only the proxies the caller may see; count the others.
          const named = users.filter((p) => canSee(caller, p.owner_token_hash)).map((p) => p.hostname);
          const hidden = users.length - named.length;
          const who = [...named, ...(hidden > 0 ? [`${hidden} other prox${hidden === 1 ? "y" : "ies"}`] : [])].join(", ");
          throw conflict(`certificate ${record.cert_name} is used by ${who}; add ?force=true to delete it anyway (they fall back to the default certificate)`);
        }
        if (!(await manager.delete(record.cert_name))) throw notFound(`certificate ${JSON.stringify(params.name)}`);
        return { deleted: record.cert_name };
      },
      {
        params: NameParams,
        query: t.Object({ force: t.Optional(t.Union([t.Literal("true"), t.Literal("false")])) }),
        detail: {
          summary:
            "Delete a certificate; 409 naming the proxies it serves unless ?force=true (they fall back to another certificate or the default one). A request still being issued (no certificate yet) is cancelled: `cancelled: true`, and the name is free again",
        },
      },
    );
}
