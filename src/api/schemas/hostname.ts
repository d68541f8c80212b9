/** Hostnames a proxy can serve: an exact DNS name, an IPv4 address, or a one-label wildcard `*.example.com`. */
import { isIP } from "node:net";
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
  // No top-level domain is all digits (RFC 3696 §2), so such a name is an address in disguise: `127.0.0.01`, `1.2.3` or
  // `2130706433` mean 127.0.0.1, 1.2.0.3 and 127.0.0.1 to inet_aton (curl, browsers) but not to the certificate, and
  // `*.0.0.1` would be a "wildcard" over addresses. Only the plain dotted quad is an address here.
  if (/(?:^|\.)[0-9]+$/.test(host) && isIP(host) !== 4) {
    throw invalid(`${field}: ${JSON.stringify(value)} ends in a number but is not an IPv4 address; write an address as four numbers 0-255 without leading zeros (e.g. 10.0.0.5)`);
  }
  if (host.length > 253 || !(EXACT.test(host) || WILDCARD.test(host))) {
    throw invalid(`${field}: ${JSON.stringify(value)} is not a hostname; expected e.g. api.example.com or *.example.com (no port, no scheme)`);
  }
  return host;
}
