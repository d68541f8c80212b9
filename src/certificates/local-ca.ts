/**
 * The gateway's own certificate authority, for names no public CA issues for
 * (internal-names.ts): an ECDSA P-256 root, valid LOCAL_CA_ROOT_YEARS, made
 * once per cluster and kept in Redis (`cert:local-ca`, claimed with SET NX so
 * two nodes starting together still agree on one), and short-lived leaf
 * certificates it signs directly. Clients trust the root once
 * (`portcullis cert root`); leaves then renew without anyone noticing.
 *
 * The root's private key is a secret: it never leaves this module except to Redis.
 */
import { X509Certificate } from "node:crypto";
import type { Redis } from "ioredis";
import { keys } from "../storage/keys";
import { isIpAddress } from "./internal-names";
import { ALGORITHM, BACKDATE_MS, loadX509, type SelfSignedCertificate } from "./self-signed";

const DAY_MS = 86_400_000;
const ROOT_YEARS = 10;

interface StoredCa {
  readonly root_pem: string;
  /** PKCS#8 PEM. Secret. */
  readonly key_pem: string;
}

/** What may be shown of the root to anyone who should trust it. */
export interface LocalCaRoot {
  readonly pem: string;
  readonly subject: string;
  readonly fingerprint_sha256: string;
  readonly not_before: string;
  readonly not_after: string;
}

/** A positive random serial (RFC 5280 §4.1.2.2: a positive INTEGER of at most 20 octets). */
function serialNumber(): string {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f;
  return Buffer.from(serial).toString("hex");
}

/** X.509 times have whole seconds: expires_at must say exactly what the certificate says. */
const wholeSeconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);

export class LocalCa {
  /** This node's copy: the root never changes once claimed. */
  private loaded?: Promise<{ stored: StoredCa; signingKey: CryptoKey }>;

  constructor(private readonly redis: Redis) {}

  /** The root certificate, made on first use. */
  async root(): Promise<LocalCaRoot> {
    const { stored } = await this.load();
    const cert = new X509Certificate(stored.root_pem);
    return {
      pem: stored.root_pem,
      subject: cert.subject,
      fingerprint_sha256: cert.fingerprint256,
      not_before: new Date(cert.validFrom).toISOString(),
      not_after: new Date(cert.validTo).toISOString(),
    };
  }

  /** A leaf for `domains` (DNS names, wildcards or IPv4 addresses; the first is the subject), valid `days`. */
  async sign(domains: readonly string[], days: number, now = new Date()): Promise<SelfSignedCertificate> {
    const x509 = await loadX509();
    const { stored, signingKey } = await this.load();
    const root = new x509.X509Certificate(stored.root_pem);
    const leafKeys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
    // Never past the root: a chain with a leaf outliving its issuer fails verification.
    const notAfter = wholeSeconds(Math.min(now.getTime() + days * DAY_MS, root.notAfter.getTime()));
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: [{ CN: [domains[0]!] }],
      issuer: root.subject,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      publicKey: leafKeys.publicKey,
      signingKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(domains.map((value) => ({ type: isIpAddress(value) ? ("ip" as const) : ("dns" as const), value }))),
        await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(root.publicKey),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
    return {
      fullchain_pem: leaf.toString("pem") + "\n",
      private_key_pem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
      expires_at: notAfter.toISOString(),
    };
  }

  private load(): Promise<{ stored: StoredCa; signingKey: CryptoKey }> {
    const loading = (this.loaded ??= this.claim());
    // A failure (Redis down) is not remembered: the next call tries again.
    loading.catch(() => {
      if (this.loaded === loading) this.loaded = undefined;
    });
    return loading;
  }

  /** The stored CA, or a new one stored only if no node stored one first (then that one is used). */
  private async claim(): Promise<{ stored: StoredCa; signingKey: CryptoKey }> {
    let raw = await this.redis.get(keys.localCa);
    if (raw === null) {
      const made = await createRoot();
      const won = await this.redis.set(keys.localCa, JSON.stringify(made), "NX");
      raw = won ? JSON.stringify(made) : await this.redis.get(keys.localCa);
      if (raw === null) throw new Error("the local CA vanished from Redis while being claimed");
    }
    const stored = JSON.parse(raw) as StoredCa;
    const x509 = await loadX509();
    const der = x509.PemConverter.decodeFirst(stored.key_pem);
    const signingKey = await crypto.subtle.importKey("pkcs8", der, ALGORITHM, false, ["sign"]);
    return { stored, signingKey };
  }
}

async function createRoot(now = new Date()): Promise<StoredCa> {
  const x509 = await loadX509();
  const rootKeys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + ROOT_YEARS);
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [`Portcullis Local CA ${now.toISOString().slice(0, 10)}`] }, { O: ["Portcullis"] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: wholeSeconds(notAfter.getTime()),
    keys: rootKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      // A root that signs leaves only (path length 0).
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", rootKeys.privateKey);
  return { root_pem: root.toString("pem") + "\n", key_pem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n" };
}
