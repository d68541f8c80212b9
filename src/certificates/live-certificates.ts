/**
 * This node's copy of the certificates to serve: every stored certificate
 * whose PEMs are usable, each under the domains the index gives it, plus the
 * shared self-signed fallback. LiveConfig calls `reload` at start and after
 * every certificate event; listeners (the HTTPS listener) hear about changes.
 *
 * A certificate whose chain or key cannot be used is left out with a warning
 * naming it (never its key); the rest keeps serving.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { Logger } from "../core/logger";
import type { CertificateExpiry, CertificateExpirySource } from "../metrics/certificate-metrics";
import type { CertificateRecord, CertificateRepository } from "../storage/certificate-repository";
import type { ProxyRecord } from "../storage/proxy-repository";
import type { AddressCertificate } from "./address-certificate";
import { proxyAddresses } from "./address-certificate";
import { createSelfSignedCertificate } from "./self-signed";

export interface ServedCertificate {
  readonly cert_name: string;
  readonly cert: string;
  readonly key: string;
}

export interface ServedCertificates {
  /** Served without SNI or for a name no certificate serves: the IP-address certificate when proxies serve addresses, else the self-signed one. */
  readonly fallback: ServedCertificate;
  /** Domain (exact or `*.example.com`) → certificate. */
  readonly byServerName: ReadonlyMap<string, ServedCertificate>;
}

export interface SelfSignedSettings {
  /** SELF_SIGNED_CN */
  readonly commonName: string;
  /** SELF_SIGNED_DAYS */
  readonly days: number;
}

/** The fallback is replaced this long before it expires, so no client ever sees it expired. */
export const SELF_SIGNED_RENEW_BEFORE_MS = 60 * 60_000;
export const SELF_SIGNED_NAME = "self-signed";
const CERTIFICATE_EVENTS = new Set(["certificate_ready", "certificate_deleted", "self_signed_certificate_ready"]);
/** A proxy's hostname or HTTPS switch may add or remove an IP address from the default certificate. */
const PROXY_EVENTS = new Set(["proxy_created", "proxy_updated", "proxy_deleted"]);

/** Clients that send no SNI (those connecting to an IP address) get a certificate naming the addresses proxies serve. */
export interface AddressDefault {
  readonly proxies: () => Promise<readonly Pick<ProxyRecord, "hostname" | "enable_https" | "created_at">[]>;
  readonly certificate: AddressCertificate;
}
const RETRY_ADDRESS_MS = 10_000;
/** setTimeout's limit; a later renewal is re-checked when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class LiveCertificates implements CertificateExpirySource {
  private current: ServedCertificates | undefined;
  /** notAfter of every served certificate (the fallback included), for portcullis_certificate_expiry_seconds. */
  private currentExpiries: readonly CertificateExpiry[] = [];
  private readonly listeners = new Set<() => void>();
  /** Validation results by certificate name, reused while the PEMs stay the same. */
  private readonly checked = new Map<string, { cert: string; key: string; problem: string | null; notAfterMs: number }>();
  private renewal: ReturnType<typeof setTimeout> | undefined;
  private loading: Promise<void> = Promise.resolve();
  private stopped = false;
  /** IP-address proxies left out of the default certificate at the last reload (warned about once per count). */
  private droppedAddresses = 0;

  /** Domains (exact or `*.example.com`) served by a certificate clients trust without setup. */
  private trustedNames: ReadonlySet<string> = new Set();

  constructor(
    private readonly repository: CertificateRepository,
    private readonly selfSigned: SelfSignedSettings,
    private readonly log: Logger,
    /** Whether clients trust a certificate without setup (a public CA's, not staging, self-signed or a local CA's). */
    private readonly publiclyTrusted: (record: CertificateRecord) => boolean = () => false,
    private readonly addressDefault?: AddressDefault,
  ) {}

  /** Whether a publicly trusted certificate serves `host` (exactly, or by a wildcard one label up), as of the last reload. */
  servesTrustedCertificate(host: string): boolean {
    if (this.trustedNames.size === 0) return false;
    if (this.trustedNames.has(host)) return true;
    const dot = host.indexOf(".");
    return dot > 0 && this.trustedNames.has(`*${host.slice(dot)}`);
  }

  /** Throws before the first `reload`. */
  get served(): ServedCertificates {
    if (!this.current) throw new Error("certificates are not loaded yet");
    return this.current;
  }

  /** When each served certificate expires, as of the last reload. */
  expiries(): readonly CertificateExpiry[] {
    return this.currentExpiries;
  }

  /** Calls `listener` after each reload that changed what is served; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The events after which LiveConfig calls `reload`. */
  wants(eventType: string): boolean {
    return CERTIFICATE_EVENTS.has(eventType) || (this.addressDefault !== undefined && PROXY_EVENTS.has(eventType));
  }

  /**
   * Reads everything again; creates or renews the shared fallback when needed.
   * Calls run one after another, so a slow older read never replaces a newer one.
   */
  reload(): Promise<void> {
    const run = this.loading.then(() => this.load());
    this.loading = run.catch(() => {});
    return run;
  }

  private async load(): Promise<void> {
    const [fallback, records] = await Promise.all([this.ensureFallback(), this.repository.list()]);
    const domains = [...new Set(records.flatMap((r) => r.domains))];
    const owners = await this.repository.domainOwners(domains);
    const usable = new Map<string, ServedCertificate>();
    const expiries: CertificateExpiry[] = [{ certificate: fallback.cert_name, notAfterMs: this.notAfterMs(fallback) }];
    for (const record of records) {
      const served = this.usable(record);
      if (!served) continue;
      usable.set(record.cert_name, served);
      if (record.cert_name !== fallback.cert_name) expiries.push({ certificate: record.cert_name, notAfterMs: this.notAfterMs(record) });
    }
    const byServerName = new Map<string, ServedCertificate>();
    for (const record of records) {
      for (const domain of record.domains) {
        const owner = usable.get(owners.get(domain) ?? "");
        const mine = usable.get(record.cert_name);
        // The index decides; a domain whose owner is unusable falls to any usable certificate listing it.
        if (owner) byServerName.set(domain, owner);
        else if (mine && !byServerName.has(domain)) byServerName.set(domain, mine);
      }
    }
    const trustedCertificates = new Set(records.filter(this.publiclyTrusted).map((r) => r.cert_name));
    this.trustedNames = new Set([...byServerName].filter(([, served]) => trustedCertificates.has(served.cert_name)).map(([domain]) => domain));
    const forAddresses = await this.pickAddressDefault(byServerName);
    if (forAddresses?.served && forAddresses.expiresAtMs !== undefined) expiries.push({ certificate: forAddresses.served.cert_name, notAfterMs: forAddresses.expiresAtMs });
    const next = { fallback: forAddresses?.served ?? toServed(fallback), byServerName };
    const changed = !this.current || !sameCertificates(this.current, next);
    this.current = next;
    this.currentExpiries = expiries;
    this.scheduleRenewal(fallback, forAddresses?.renewAtMs);
    if (changed) for (const listener of this.listeners) listener();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.renewal);
    this.listeners.clear();
  }

  private ensureFallback(): Promise<CertificateRecord> {
    const { commonName, days } = this.selfSigned;
    return this.repository.ensureSelfSigned(
      commonName,
      (stored) => this.usable(stored) !== null && !renewalDue(stored),
      async () => {
        const created = await createSelfSignedCertificate(commonName, days);
        this.log.info({ common_name: commonName, expires_at: created.expires_at }, "generated a self-signed fallback certificate");
        return {
          cert_name: SELF_SIGNED_NAME,
          domains: [commonName],
          email: null,
          acme_directory_url: null,
          status: "self-signed",
          owner_token_hash: null,
          ...created,
        };
      },
    );
  }

  /**
   * The default for IP-address clients, or null when no proxy serves an
   * address. If signing fails (the local CA unreadable), the previous default
   * stays and another try comes in RETRY_ADDRESS_MS.
   */
  private async pickAddressDefault(byServerName: ReadonlyMap<string, ServedCertificate>): Promise<{ served?: ServedCertificate; expiresAtMs?: number; renewAtMs?: number } | null> {
    if (!this.addressDefault) return null;
    const { addresses, dropped } = proxyAddresses(await this.addressDefault.proxies());
    if (dropped > 0 && dropped !== this.droppedAddresses) {
      this.log.warn({ named: addresses.length, dropped }, "more HTTPS proxies have IP-address hostnames than the default certificate names; the newest are left out");
    }
    this.droppedAddresses = dropped;
    try {
      return await this.addressDefault.certificate.pick(addresses, byServerName);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, addresses }, "could not sign the certificate for IP-address clients; retrying");
      const previous = this.current?.fallback;
      return { served: previous?.cert_name === SELF_SIGNED_NAME ? undefined : previous, renewAtMs: Date.now() + RETRY_ADDRESS_MS };
    }
  }

  /** One timer for both certificates made here: the self-signed fallback and the IP-address leaf (renewAtMs). */
  private scheduleRenewal(fallback: CertificateRecord, addressRenewAtMs = Number.POSITIVE_INFINITY): void {
    clearTimeout(this.renewal);
    if (this.stopped) return;
    const fallbackDueAt = Date.parse(fallback.expires_at ?? "") - SELF_SIGNED_RENEW_BEFORE_MS;
    const due = Math.min(fallbackDueAt, addressRenewAtMs) - Date.now();
    const delay = Math.min(Math.max(due, 1_000), MAX_TIMER_MS);
    this.renewal = setTimeout(() => {
      this.reload().catch((err) => this.log.warn({ err: (err as Error).message }, "could not renew the self-signed fallback or IP-address certificate; retrying"));
    }, delay);
    this.renewal.unref?.();
  }

  /** The record as served, or null (with a warning, once per content) when its PEMs cannot be used. */
  private usable(record: CertificateRecord): ServedCertificate | null {
    const cert = record.fullchain_pem;
    const key = record.private_key_pem;
    let verdict = this.checked.get(record.cert_name);
    if (!verdict || verdict.cert !== cert || verdict.key !== key) {
      verdict = { cert, key, problem: pemProblem(cert, key), notAfterMs: leafNotAfterMs(cert) };
      this.checked.set(record.cert_name, verdict);
      if (verdict.problem) this.log.warn({ cert_name: record.cert_name, problem: verdict.problem }, "certificate not served");
    }
    return verdict.problem ? null : toServed(record);
  }

  /** The leaf's notAfter, parsed once per PEM content by `usable`. */
  private notAfterMs(record: CertificateRecord): number {
    const verdict = this.checked.get(record.cert_name);
    return verdict?.cert === record.fullchain_pem ? verdict.notAfterMs : leafNotAfterMs(record.fullchain_pem);
  }
}

/** The first certificate's notAfter in ms since the epoch; NaN when it cannot be parsed. */
function leafNotAfterMs(cert: unknown): number {
  try {
    return Date.parse(new X509Certificate(cert as string).validTo);
  } catch {
    return Number.NaN;
  }
}

/** Why a chain and key cannot be served, or null. Never includes key material. */
export function pemProblem(cert: unknown, key: unknown): string | null {
  if (typeof cert !== "string" || !cert.includes("-----BEGIN CERTIFICATE-----")) return "fullchain_pem holds no PEM certificate";
  if (typeof key !== "string" || !key.includes("PRIVATE KEY-----")) return "private_key_pem holds no PEM private key";
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    return "fullchain_pem cannot be parsed";
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) return "private_key_pem does not match the certificate";
  } catch {
    return "private_key_pem cannot be parsed";
  }
  return null;
}

function toServed(record: CertificateRecord): ServedCertificate {
  return { cert_name: record.cert_name, cert: record.fullchain_pem, key: record.private_key_pem };
}

function renewalDue(record: CertificateRecord): boolean {
  const expires = Date.parse(record.expires_at ?? "");
  return !Number.isFinite(expires) || expires - Date.now() <= SELF_SIGNED_RENEW_BEFORE_MS;
}

function sameCertificates(a: ServedCertificates, b: ServedCertificates): boolean {
  const same = (x: ServedCertificate | undefined, y: ServedCertificate | undefined) => !!x && !!y && x.cert === y.cert && x.key === y.key;
  if (!same(a.fallback, b.fallback) || a.byServerName.size !== b.byServerName.size) return false;
  for (const [name, served] of a.byServerName) if (!same(served, b.byServerName.get(name))) return false;
  return true;
}
