/**
 * The self-signed certificate served to names without a certificate of their
 * own (SELF_SIGNED_CN, valid SELF_SIGNED_DAYS): ECDSA P-256, a server
 * certificate for the common name, made with @peculiar/x509.
 */
import "reflect-metadata";
import type * as X509 from "@peculiar/x509";

/**
 * @peculiar/x509 (through tsyringe) needs the reflect polyfill at load time.
 * A bundle evaluates static ES imports before this module's CommonJS polyfill
 * import, so the compiled binary would throw at startup: load it on first use.
 */
let library: Promise<typeof X509> | undefined;
export const loadX509 = () => (library ??= import("@peculiar/x509"));

export interface SelfSignedCertificate {
  readonly fullchain_pem: string;
  readonly private_key_pem: string;
  /** ISO 8601 notAfter. */
  readonly expires_at: string;
}

export const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY_MS = 86_400_000;
/** notBefore is set back a little so clients with a slow clock accept a fresh certificate. */
export const BACKDATE_MS = 5 * 60_000;

/** A self-signed server certificate for `commonName` (and `altNames`, which default to it alone). */
export async function createSelfSignedCertificate(
  commonName: string,
  days: number,
  now = new Date(),
  altNames: readonly string[] = [commonName],
): Promise<SelfSignedCertificate> {
  const x509 = await loadX509();
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  // X.509 times have whole seconds: expires_at must say exactly what the certificate says.
  const notAfter = new Date(Math.floor((now.getTime() + days * DAY_MS) / 1000) * 1000);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f; // a positive INTEGER (RFC 5280 §4.1.2.2)
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(serial).toString("hex"),
    name: [{ CN: [commonName] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(altNames.map((value) => ({ type: "dns" as const, value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    fullchain_pem: certificate.toString("pem") + "\n",
    private_key_pem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
    expires_at: notAfter.toISOString(),
  };
}
