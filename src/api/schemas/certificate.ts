/** Request bodies of /api/v1/certificates and the checks Elysia's schema cannot express. */
import { t } from "elysia";
import { invalid } from "../../core/errors";
import { isEmail } from "../../core/config";
import { isInternalName } from "../../certificates/internal-names";
import { checkHostnamePattern } from "./hostname";

const common = {
  cert_name: t.String({ minLength: 1, maxLength: 128, description: "Letters, digits, '.', '_', '-'" }),
  email: t.Optional(t.Union([t.String(), t.Null()], { description: "ACME account contact; default: the token's cert_email, else ADMIN_EMAIL" })),
  staging: t.Optional(t.Boolean({ description: "Use ACME_STAGING_URL instead of ACME_DIRECTORY_URL" })),
  acme_directory_url: t.Optional(
    t.String({
      maxLength: 2048,
      description: "The ACME directory to issue with: one of ACME_DIRECTORY_URL, ACME_STAGING_URL or ACME_ALLOWED_DIRECTORY_URLS (anything else is refused). Default: ACME_DIRECTORY_URL, or ACME_STAGING_URL with staging",
    }),
  ),
  acme: t.Optional(t.Boolean({ description: "false: a self-signed certificate, made at once" })),
  key_type: t.Optional(t.Union([t.Literal("rsa"), t.Literal("ecdsa")], { description: "rsa (RSA_KEY_SIZE bits, default) or ecdsa (P-256)" })),
};

export const CertificateCreateBody = t.Object({ ...common, domain: t.String({ minLength: 1, maxLength: 253 }) }, { additionalProperties: false });
export const MultiDomainCreateBody = t.Object(
  { ...common, domains: t.Array(t.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 100 }) },
  { additionalProperties: false },
);

export const MAX_DOMAINS = 100;
/** The path segment of the local CA's root: no certificate may take it as a name. */
export const RESERVED_NAME = "root";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface CheckedCertificateRequest {
  readonly cert_name: string;
  readonly domains: string[];
  readonly email: string | null | undefined;
  readonly staging: boolean;
  /** As sent; the route checks it against the allowed directories. */
  readonly acme_directory_url: string | undefined;
  readonly acme: boolean;
  readonly key_type: "rsa" | "ecdsa";
}

/** Checks a request; errors name the fields as sent (`domain` for the single-domain endpoint). */
export function checkCertificateRequest(body: {
  cert_name: string;
  domain?: string;
  domains?: string[];
  email?: string | null;
  staging?: boolean;
  acme_directory_url?: string;
  acme?: boolean;
  key_type?: "rsa" | "ecdsa";
}): CheckedCertificateRequest {
  if (!NAME.test(body.cert_name)) throw invalid(`cert_name: ${JSON.stringify(body.cert_name)} may hold letters, digits, ".", "_" and "-" only (up to 128)`);
  if (body.cert_name === RESERVED_NAME) throw invalid(`cert_name: "${RESERVED_NAME}" is reserved (GET /api/v1/certificates/root is the local CA's root certificate)`);
  const named = body.domain !== undefined ? [["domain", body.domain]] : (body.domains ?? []).map((d, i) => [`domains[${i}]`, d]);
  const domains = [...new Set(named.map(([field, d]) => checkHostnamePattern(field!, d!)))];
  if (domains.length > MAX_DOMAINS) throw invalid(`domains: at most ${MAX_DOMAINS} per certificate`);
  const acme = body.acme ?? true;
  // The local CA signs internal wildcards (*.apps.internal); ACME here cannot prove any.
  const wildcard = domains.find((d) => d.startsWith("*.") && !isInternalName(d));
  if (acme && wildcard) {
    throw invalid(`domains: ${wildcard} needs a DNS-01 challenge, and this gateway answers HTTP-01 only; list the host names, or use "acme": false`);
  }
  if (body.email !== undefined && body.email !== null && !isEmail(body.email)) throw invalid(`email: ${JSON.stringify(body.email)} is not an email address`);
  if (!acme && body.staging) throw invalid('staging: applies to ACME certificates only ("acme": false was given)');
  if (!acme && body.acme_directory_url !== undefined) throw invalid('acme_directory_url: applies to ACME certificates only ("acme": false was given)');
  if (body.staging && body.acme_directory_url !== undefined) throw invalid("acme_directory_url: give either it or staging, not both (staging means ACME_STAGING_URL)");
  return {
    cert_name: body.cert_name,
    domains,
    email: body.email,
    staging: body.staging ?? false,
    acme_directory_url: body.acme_directory_url,
    acme,
    key_type: body.key_type ?? "rsa",
  };
}
