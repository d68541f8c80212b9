/** Hostnames a proxy can serve: an exact DNS name or a one-label wildcard `*.example.com`. */
import { invalid } from "../../core/errors";

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const EXACT = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const WILDCARD = new RegExp(`^\\*\\.${LABEL}(?:\\.${LABEL})+$`);

export function checkHostnamePattern(field: string, value: string): string {
  const host = value.trim().toLowerCase().replace(/\.$/, "");
  // `*.localhost` (or `*.test`, `*.internal`...): OpenSSL (curl, Python), Node and Bun refuse a certificate whose wildcard
  // has one label after it, so such a proxy could serve HTTPS to none of them. Said apart so the answer shows the way out.
  if (/^\*\.[a-z0-9-]+$/.test(host)) {
    throw invalid(
      `${field}: ${JSON.stringify(value)} is a wildcard over a single label, and TLS clients (OpenSSL, Node, Bun) refuse certificates for those; use one more label, e.g. ${JSON.stringify(host.replace("*.", "*.app."))}`,
    );
  }
  if (host.length > 253 || !(EXACT.test(host) || WILDCARD.test(host))) {
    throw invalid(`${field}: ${JSON.stringify(value)} is not a hostname; expected e.g. api.example.com or *.example.com (no port, no scheme)`);
  }
  return host;
}
