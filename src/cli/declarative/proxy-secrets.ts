/**
 * A proxy's own GitHub OAuth app in the configuration file: `export
 * --include-secrets` reads the client secret from the API and writes it
 * encrypted with the passphrase; `apply` opens every one before it changes
 * anything (a wrong passphrase applies nothing), then sets the app through the
 * proxy's github-oauth endpoint only where the gateway has something else.
 */
import { ApiError, type ApiClient } from "../api-client";
import { CliError } from "../cli-error";
import { PROXY_SECRET_FIELDS, type ConfigDocument } from "./config-document";
import type { Entry } from "./plan";
import { EnvelopeError, openSecret, sealSecret } from "./secret-envelope";

/** A proxy's app as the file asks for it, opened. */
export interface ProxyApp {
  readonly hostname: string;
  readonly clientId: string;
  readonly secret: string;
}

interface SecretAnswer {
  github_client_id: string | null;
  github_client_secret: string | null;
}

const secretPath = (hostname: string) => `/api/v1/proxy/targets/${encodeURIComponent(hostname)}/github-oauth/secret`;

/** The document without the secret fields (what planApply compares), and the encrypted apps apart. */
export function splitSecrets(document: ConfigDocument): { document: ConfigDocument; sealed: { hostname: string; clientId: string; envelope: string }[] } {
  const sealed: { hostname: string; clientId: string; envelope: string }[] = [];
  if (!document.proxies) return { document, sealed };
  const proxies = document.proxies.map((proxy) => {
    const { github_client_id, github_client_secret_encrypted, ...rest } = proxy;
    if (github_client_id !== undefined && github_client_secret_encrypted !== undefined) {
      sealed.push({ hostname: proxy.hostname, clientId: github_client_id, envelope: github_client_secret_encrypted });
    }
    return rest;
  });
  return { document: { ...document, proxies }, sealed };
}

/** Opens every secret, or throws (exit 2) naming the first proxy whose secret does not open. */
export function openSecrets(sealed: readonly { hostname: string; clientId: string; envelope: string }[], passphrase: string): ProxyApp[] {
  return sealed.map(({ hostname, clientId, envelope }) => {
    try {
      return { hostname, clientId, secret: openSecret(envelope, passphrase) };
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      throw new CliError(`proxy ${hostname}: github_client_secret_encrypted ${error.message}; nothing was applied`, 2);
    }
  });
}

/** The apps the gateway does not have as the file asks (a proxy it cannot show, e.g. one apply is about to create, counts as different). */
export async function appsToSet(client: ApiClient, apps: readonly ProxyApp[]): Promise<ProxyApp[]> {
  const differ: ProxyApp[] = [];
  for (const app of apps) {
    let have: SecretAnswer | null = null;
    try {
      have = await client.get<SecretAnswer>(secretPath(app.hostname));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
    if (have?.github_client_id !== app.clientId || have.github_client_secret !== app.secret) differ.push(app);
  }
  return differ;
}

export function setApp(client: ApiClient, app: ProxyApp): Promise<unknown> {
  return client.post(`/api/v1/proxy/targets/${encodeURIComponent(app.hostname)}/github-oauth`, { github_client_id: app.clientId, github_client_secret: app.secret });
}

/** One line for the plan and the run; the secret itself is never printed. */
export function describeApp(app: ProxyApp): string {
  return `~ set proxy ${app.hostname} github_client_secret (github_client_id ${app.clientId})`;
}

/** Adds each exported proxy's app, its secret sealed with the passphrase, to the proxy's entry. */
export async function addSealedSecrets(client: ApiClient, proxies: Entry[], passphrase: string): Promise<void> {
  for (const entry of proxies) {
    const answer = await client.get<SecretAnswer>(secretPath(String(entry.hostname)));
    if (answer.github_client_id === null || answer.github_client_secret === null) continue;
    entry[PROXY_SECRET_FIELDS[0]] = answer.github_client_id;
    entry[PROXY_SECRET_FIELDS[1]] = sealSecret(answer.github_client_secret, passphrase);
  }
}
