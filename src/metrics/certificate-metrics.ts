/**
 * Seconds until each served certificate expires, read at scrape time from the
 * certificates this node holds in memory (LiveCertificates): what an alert on
 * "renewal is not happening" needs. Negative once a certificate has expired.
 */
import { Gauge, type Registry } from "prom-client";

export interface CertificateExpiry {
  /** The certificate's configured name (cert_name), or "self-signed" for the fallback. */
  readonly certificate: string;
  /** The leaf's notAfter, in milliseconds since the epoch. */
  readonly notAfterMs: number;
}

export interface CertificateExpirySource {
  expiries(): Iterable<CertificateExpiry>;
}

export function registerCertificateExpiry(registry: Registry, source: () => CertificateExpirySource | undefined): void {
  new Gauge({
    name: "portcullis_certificate_expiry_seconds",
    help: "Seconds until each served certificate's notAfter (negative once expired), by certificate name",
    labelNames: ["certificate"],
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const { certificate, notAfterMs } of source()?.expiries() ?? []) this.set({ certificate }, (notAfterMs - now) / 1000);
    },
  });
}
