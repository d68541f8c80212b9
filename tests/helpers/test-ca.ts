/**
 * A throwaway certificate authority for TLS tests: server certificates for any
 * names, and certificate records as the repository stores them. Clients trust
 * `ca.pem` (fetch's `tls: { ca }`, node:tls `ca`, curl `--cacert`,
 * openssl `-CAfile`).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import type { CertificateRecord } from "../../src/storage/certificate-repository";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
const DAY_MS = 86_400_000;

export interface IssuedCertificate {
  readonly fullchain_pem: string;
  readonly private_key_pem: string;
  readonly expires_at: string;
  /** SHA-256 of the leaf, as node:tls reports it (`AB:CD:…`). */
  readonly fingerprint256: string;
}

export interface TestCa {
  readonly pem: string;
  issue(commonName: string, domains: readonly string[], options?: { days?: number; notBefore?: Date }): Promise<IssuedCertificate>;
}

const serial = () => Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex").replace(/^[89a-f]/, "1");

async function pemKey(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

export async function createTestCa(name = "Portcullis Test CA"): Promise<TestCa> {
  const caKeys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [name] }],
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const pem = caCert.toString("pem") + "\n";
  return {
    pem,
    async issue(commonName, domains, options = {}) {
      const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
      const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
      const notAfter = new Date(notBefore.getTime() + (options.days ?? 7) * DAY_MS);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: [{ CN: [commonName] }],
        issuer: caCert.subjectName,
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(domains.map((value) => ({ type: "dns" as const, value }))),
        ],
      });
      const thumbprint = Buffer.from(await leaf.getThumbprint("SHA-256")).toString("hex").toUpperCase();
      return {
        fullchain_pem: leaf.toString("pem") + "\n",
        private_key_pem: (await pemKey(keys.privateKey)) + "\n",
        expires_at: notAfter.toISOString(),
        fingerprint256: thumbprint.match(/../g)!.join(":"),
      };
    },
  };
}

/** A complete record for the repository, from an issued certificate. */
export function certificateRecord(name: string, domains: readonly string[], issued: IssuedCertificate, overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    cert_name: name,
    domains: [...domains],
    email: "ops@example.test",
    acme_directory_url: null,
    status: "active",
    expires_at: issued.expires_at,
    fullchain_pem: issued.fullchain_pem,
    private_key_pem: issued.private_key_pem,
    owner_token_hash: null,
    ...overrides,
  };
}

export interface PeerCertificate {
  readonly subjectCn: string;
  readonly subjectAltName: string;
  readonly fingerprint256: string;
  readonly protocol: string | null;
  readonly alpn: string | false;
}

/** Handshakes with `serverName` (omitted: no SNI) and reports the certificate the server chose. */
export function peerCertificate(port: number, serverName?: string, options: { alpn?: string[] } = {}): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: serverName ?? "",
      rejectUnauthorized: false,
      ALPNProtocols: options.alpn,
    });
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      resolve({
        subjectCn: String(cert.subject?.CN ?? ""),
        subjectAltName: cert.subjectaltname ?? "",
        fingerprint256: cert.fingerprint256,
        protocol: socket.getProtocol(),
        alpn: socket.alpnProtocol ?? false,
      });
      socket.destroy();
    });
    socket.once("error", (err) => reject(Object.assign(err, { message: `${err.message} (handshake with ${serverName ?? "no SNI"} on port ${port})` })));
  });
}

/**
 * The SHA-256 fingerprint (as X509Certificate.fingerprint256 writes it) of the certificate a
 * client sending no SNI gets, as `openssl s_client -noservername` sees it: what a client
 * connecting to an IP address gets (RFC 6066 §3: no IP literals in SNI).
 */
export async function noSniFingerprint(port: number): Promise<string> {
  const child = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-noservername"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  child.stdin.end();
  const [, out] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const pem = out.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  if (!pem) throw new Error(`openssl got no certificate from port ${port}: ${out.slice(0, 300)}`);
  return new X509Certificate(pem[0]).fingerprint256;
}
