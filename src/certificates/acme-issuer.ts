/**
 * One ACME v2 issuance with HTTP-01 (RFC 8555): account, order, a challenge
 * per name answered from Redis, finalize with a fresh key, download the chain.
 * Steps are explicit (not acme-client's auto()) so the CA's problem document
 * for whichever step fails reaches the status verbatim, and so each step runs
 * under a deadline (issuance-steps.ts) and a failure names it.
 */
import { X509Certificate } from "node:crypto";
import * as acme from "acme-client";
import type { CertificateSettings } from "../core/certificate-config";
import type { AcmeAccounts } from "./acme-accounts";
import { forgetProblem, withProblemCapture } from "./acme-problem";
import { checkChallengeAnswer, selfCheckUrl } from "./challenge-self-check";
import type { ChallengeStore } from "./challenge-store";
import { ExplainedError, IssuanceDeadline, StepFailure, type Step } from "./issuance-steps";

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
    throw new ExplainedError(`the ACME server cannot be reached at ${directoryUrl} (${reason})`);
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

/** How long challenge answers may take to leave Redis; whatever stays expires on its own. */
const CLEANUP_WAIT_MS = 1_000;

async function issue(request: IssueRequest, deps: IssuerDeps): Promise<IssuedCertificate> {
  const { settings } = deps;
  const progress = deps.onProgress ?? (() => {});
  const deadline = new IssuanceDeadline(settings.issuanceTimeoutMs);
  const step = async <T>(which: Step, limitMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    forgetProblem();
    try {
      return await deadline.run(which, limitMs, work);
    } catch (err) {
      // A step that ran out of time failed for that reason, whatever the CA said on the way.
      if (err instanceof StepFailure && err.timedOut) forgetProblem();
      throw err;
    }
  };
  const exchange = settings.stepTimeoutMs;
  // Waiting for the CA to validate or issue: its polls, plus an exchange's time for the requests themselves.
  const wait = settings.pollInitialWaitMs + settings.pollMaxAttempts * settings.pollIntervalMs + settings.stepTimeoutMs;
  // Each request acme-client makes gives up too (a setting global to its HTTP client), so one abandoned
  // by a step's deadline does not linger; a second later than the step, whose own message then comes first.
  acme.axios.defaults.timeout = settings.stepTimeoutMs + 1_000;

  if (!behindEgressProxy()) {
    progress(`reaching the CA at ${request.directoryUrl}`);
    await step({ name: "the CA reachability check" }, exchange, () => connectToCa(request.directoryUrl));
  }
  progress("registering the ACME account");
  const client = await step({ name: "account registration" }, exchange, async () => {
    const client = new acme.Client({
      directoryUrl: request.directoryUrl,
      accountKey: await deps.accounts.keyFor(request.email, request.directoryUrl),
      backoffAttempts: settings.pollMaxAttempts,
      backoffMin: settings.pollIntervalMs,
      backoffMax: settings.pollIntervalMs,
    });
    await client.createAccount({ termsOfServiceAgreed: true, contact: request.email ? [`mailto:${request.email}`] : [] });
    return client;
  });

  progress(`ordering a certificate for ${request.domains.join(", ")}`);
  const order = await step({ name: "order creation" }, exchange, () =>
    client.createOrder({ identifiers: request.domains.map((value) => ({ type: "dns", value })) }),
  );
  const authorizations = await step({ name: "authorization fetch" }, exchange, () => client.getAuthorizations(order));
  const tokens: string[] = [];
  try {
    for (const authz of authorizations) {
      if (authz.status === "valid") continue;
      const domain = authz.identifier.value;
      const challenge = authz.challenges.find((c) => c.type === "http-01");
      if (!challenge) throw new StepFailure(`authorization of ${domain}`, `the CA offers no HTTP-01 challenge for ${domain}`);
      const keyAuthorization = await step({ name: `challenge setup for ${domain}` }, exchange, async () => {
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        await deps.challenges.put(challenge.token, keyAuthorization);
        return keyAuthorization;
      });
      tokens.push(challenge.token);
      if (settings.challengeSelfCheck) {
        const url = selfCheckUrl(domain, challenge.token, deps.httpPort);
        progress(`checking that ${url} answers`);
        await step({ name: `self-check of ${domain}`, subject: `self-check of ${url}` }, settings.selfCheckTimeoutMs, (signal) =>
          checkChallengeAnswer(url, domain, keyAuthorization, signal),
        );
      }
      progress(`asking the CA to validate ${domain}`);
      await step({ name: `validation of ${domain}` }, wait, async () => {
        await client.completeChallenge(challenge);
        if (settings.pollInitialWaitMs > 0) await Bun.sleep(settings.pollInitialWaitMs);
        // An invalid challenge fails here; the problem document arrives with the polled resource.
        await client.waitForValidStatus(challenge);
        await client.waitForValidStatus(authz);
      });
    }
  } finally {
    const removed = Promise.all(tokens.map((token) => deps.challenges.remove(token).catch(() => {})));
    await Promise.race([removed, Bun.sleep(CLEANUP_WAIT_MS)]);
  }

  progress("finalizing the order");
  // Local work, no peer to wait for: outside any step's limit (a 4096-bit RSA key can take seconds).
  const privateKey = request.keyType === "ecdsa" ? await acme.crypto.createPrivateEcdsaKey("P-256") : await acme.crypto.createPrivateRsaKey(settings.rsaKeySize);
  const [, csr] = await acme.crypto.createCsr({ commonName: request.domains[0], altNames: [...request.domains] }, privateKey);
  const finalized = await step({ name: "order finalization" }, exchange, () => client.finalizeOrder(order, csr));
  const fullchain = await step({ name: "certificate download" }, wait, () => client.getCertificate(finalized));
  return {
    fullchain_pem: fullchain,
    private_key_pem: privateKey.toString(),
    expires_at: new Date(new X509Certificate(fullchain).validTo).toISOString(),
  };
}
