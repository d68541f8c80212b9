/**
 * One ACME v2 issuance with HTTP-01 (RFC 8555): account, order, a challenge
 * per name answered from Redis, finalize with a fresh key, download the chain.
 * Steps are explicit (not acme-client's auto()) so the CA's problem document
 * for whichever step fails reaches the status verbatim.
 */
import { X509Certificate } from "node:crypto";
import * as acme from "acme-client";
import type { CertificateSettings } from "../core/certificate-config";
import type { AcmeAccounts } from "./acme-accounts";
import { withProblemCapture } from "./acme-problem";
import type { ChallengeStore } from "./challenge-store";

export type KeyType = "rsa" | "ecdsa";

export interface IssueRequest {
  readonly domains: readonly string[];
  readonly email: string | null;
  readonly directoryUrl: string;
  readonly keyType: KeyType;
}

export interface IssuedCertificate {
  readonly fullchain_pem: string;
  /** Secret. */
  readonly private_key_pem: string;
  readonly expires_at: string;
}

export interface IssuerDeps {
  readonly accounts: AcmeAccounts;
  readonly challenges: ChallengeStore;
  readonly settings: CertificateSettings;
  /** HTTP_PORT: where the self-check fetches our own challenge answers. */
  readonly httpPort: number;
  readonly onProgress?: (message: string) => void;
}

/** How long connecting to the CA may take at the start of an issuance. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * acme-client retries a CA it cannot connect to for over a minute and then
 * fails with a TypeError from inside its HTTP client (it validates a response
 * that never came), which tells an operator nothing. Opening (and at once
 * closing) a TCP connection to the directory's host first turns an
 * unreachable CA into a message that says so, within seconds. Nothing is
 * sent: whatever the CA answers, acme-client reads and reports.
 */
async function connectToCa(directoryUrl: string): Promise<void> {
  const url = new URL(directoryUrl);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port) || (url.protocol === "http:" ? 80 : 443);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })), CONNECT_TIMEOUT_MS);
  });
  try {
    const socket = await Promise.race([Bun.connect({ hostname, port, socket: { data() {}, error() {} } }), timeout]);
    socket.end();
  } catch (err) {
    const reason = (err as { code?: string }).code ?? (err as Error).message;
    throw new Error(`the ACME server cannot be reached at ${directoryUrl} (${reason})`);
  } finally {
    clearTimeout(timer);
  }
}

/** acme-client's HTTP client goes through these when set; a direct connection would then prove nothing. */
const EGRESS_PROXY_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
export const behindEgressProxy = (env: Record<string, string | undefined> = process.env): boolean =>
  EGRESS_PROXY_VARIABLES.some((name) => Boolean(env[name]));

export function issueCertificate(request: IssueRequest, deps: IssuerDeps): Promise<IssuedCertificate> {
  return withProblemCapture(() => issue(request, deps));
}

async function issue(request: IssueRequest, deps: IssuerDeps): Promise<IssuedCertificate> {
  const { settings } = deps;
  const progress = deps.onProgress ?? (() => {});
  // acme-client's self-check reads this port from its global HTTP client settings.
  (acme.axios.defaults as unknown as { acmeSettings: { httpChallengePort: number } }).acmeSettings.httpChallengePort = deps.httpPort;
  const client = new acme.Client({
    directoryUrl: request.directoryUrl,
    accountKey: await deps.accounts.keyFor(request.email, request.directoryUrl),
    backoffAttempts: settings.pollMaxAttempts,
    backoffMin: settings.pollIntervalMs,
    backoffMax: settings.pollIntervalMs,
  });
  if (!behindEgressProxy()) {
    progress(`reaching the CA at ${request.directoryUrl}`);
    await connectToCa(request.directoryUrl);
  }
  progress("registering the ACME account");
  await client.createAccount({ termsOfServiceAgreed: true, contact: request.email ? [`mailto:${request.email}`] : [] });

  progress(`ordering a certificate for ${request.domains.join(", ")}`);
  const order = await client.createOrder({ identifiers: request.domains.map((value) => ({ type: "dns", value })) });
  const authorizations = await client.getAuthorizations(order);
  const tokens: string[] = [];
  try {
    for (const authz of authorizations) {
      if (authz.status === "valid") continue;
      const challenge = authz.challenges.find((c) => c.type === "http-01");
      if (!challenge) throw new Error(`the CA offers no HTTP-01 challenge for ${authz.identifier.value}`);
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      await deps.challenges.put(challenge.token, keyAuthorization);
      tokens.push(challenge.token);
      if (settings.challengeSelfCheck) {
        progress(`checking http://${authz.identifier.value}/.well-known/acme-challenge/ answers`);
        await client.verifyChallenge(authz, challenge);
      }
      progress(`asking the CA to validate ${authz.identifier.value}`);
      await client.completeChallenge(challenge);
      if (settings.pollInitialWaitMs > 0) await Bun.sleep(settings.pollInitialWaitMs);
      // An invalid challenge fails here; the problem document arrives with the polled resource.
      await client.waitForValidStatus(challenge);
      await client.waitForValidStatus(authz);
    }
  } finally {
    await Promise.all(tokens.map((token) => deps.challenges.remove(token).catch(() => {})));
  }

  progress("finalizing the order");
  const privateKey = request.keyType === "ecdsa" ? await acme.crypto.createPrivateEcdsaKey("P-256") : await acme.crypto.createPrivateRsaKey(settings.rsaKeySize);
  const [, csr] = await acme.crypto.createCsr({ commonName: request.domains[0], altNames: [...request.domains] }, privateKey);
  const finalized = await client.finalizeOrder(order, csr);
  const fullchain = await client.getCertificate(finalized);
  return {
    fullchain_pem: fullchain,
    private_key_pem: privateKey.toString(),
    expires_at: new Date(new X509Certificate(fullchain).validTo).toISOString(),
  };
}
