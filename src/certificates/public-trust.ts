/**
 * Which certificates clients trust without any setup: those an ACME CA issued
 * from the production directory. The staging directory's, the self-signed
 * fallback and certificates of the gateway's own CA need the client to be told
 * to trust them, so the edge does not push plain-HTTP clients onto them.
 */
import type { CertificateSettings } from "../core/certificate-config";
import type { CertificateRecord } from "../storage/certificate-repository";

export function isPubliclyTrusted(record: Pick<CertificateRecord, "acme_directory_url">, settings: Pick<CertificateSettings, "stagingUrl">): boolean {
  return record.acme_directory_url !== null && record.acme_directory_url !== settings.stagingUrl;
}
