/** Hostnames a proxy can serve: an exact DNS name or a one-label wildcard `*.example.com`. */
import { invalid } from "../../core/errors";

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const EXACT = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const WILDCARD = new RegExp(`^\\*\\.${LABEL}(?:\\.${LABEL})+$`);

export function checkHostnamePattern(field: string, value: string): string {
  const host = value.trim().toLowerCase().replace(/\.$/, "");
  if (host.length > 253 || !(EXACT.test(host) || WILDCARD.test(host))) {
    throw invalid(`${field}: ${JSON.stringify(value)} is not a hostname; expected e.g. api.example.com or *.example.com (no port, no scheme)`);
  }
  return host;
}
