/**
 * `portcullis cert …`: certificates over /api/v1/certificates. ACME issuance
 * runs in the background on the gateway; `--wait` follows it to the end.
 * A private key is printed only when `--pem` asks for it.
 */
import { Option, type Command } from "commander";
import { ApiError, type ApiClient } from "../api-client";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderChange, renderItem, renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";
import { registerCertRootCommand } from "./cert-root";

/** A certificate as GET /api/v1/certificates/ lists it (no PEMs). */
export interface CertificateView {
  cert_name: string;
  domains: string[];
  email: string | null;
  acme_directory_url: string | null;
  status: string;
  expires_at: string | null;
  owner_token_hash?: string | null;
  /** "local-ca" for certificates the gateway's local CA signed. */
  issuer?: string;
}

/** GET /api/v1/certificates/{name}: the chain always, the key only with ?pem=true. */
export interface CertificateDetail extends CertificateView {
  fullchain_pem?: string;
  private_key_pem?: string;
}

/** GET …/{name}/status: where background issuance stands. */
export interface IssuanceStatus {
  cert_name: string;
  status: string;
  message: string | null;
  /** The CA's problem document (RFC 8555 §6.7) verbatim when it refused, or another error object. */
  error: Record<string, unknown> | null;
  attempts: number;
  updated_at: string | null;
  operation?: string;
  domains?: string[];
  /** When a failed issuance or renewal is tried again. */
  retry_at?: string | null;
}

/** The 202 of create, multi-domain and renew. */
export interface IssuanceAccepted {
  cert_name: string;
  domains?: string[];
  status: string;
  status_url: string;
  message: string;
}

export const KEY_TYPES = ["rsa", "ecdsa"] as const;
const FINAL = new Set(["ready", "failed"]);
/** `cert create/renew --wait` gives up after this long unless --timeout says otherwise. */
export const DEFAULT_WAIT_SECONDS = 600;
export const DEFAULT_POLL_SECONDS = 2;
/** The exit code when --wait's time runs out first, as timeout(1) uses. */
export const WAIT_TIMEOUT_EXIT = 124;

const BASE = "/api/v1/certificates";
const path = (name: string) => `${BASE}/${encodeURIComponent(name)}`;

/** The CA's host for ACME certificates ("acme-v02.api.letsencrypt.org"), "local CA", or "self-signed". */
export function certificateIssuer(cert: Pick<CertificateView, "acme_directory_url" | "issuer">): string {
  if (cert.issuer === "local-ca") return "local CA";
  const url = cert.acme_directory_url;
  if (!url) return "self-signed";
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export const CERTIFICATE_COLUMNS: Column<CertificateView>[] = [
  { header: "Name", value: (c) => c.cert_name },
  { header: "Domains", value: (c) => c.domains.join(", ") },
  { header: "Status", value: (c) => c.status },
  { header: "Expires", value: (c) => c.expires_at, kind: "expiry" },
  { header: "Issuer", value: certificateIssuer },
];

export const EMPTY_CERTIFICATES_HINT = "No certificates yet. Create one: portcullis cert create <name> <domain>";

export interface CreateFlags {
  staging?: boolean;
  /** --directory: one of the ACME directories the gateway allows (the server checks). */
  directory?: string;
  email?: string;
  selfSigned?: boolean;
  keyType?: string;
}

/**
 * The request for `cert create`: one domain goes to /certificates/, several to
 * /certificates/multi-domain. A domain repeated (in any case) counts once.
 * Only the flags given are sent; the server fills its defaults.
 */
export function createRequest(name: string, domains: readonly string[], flags: CreateFlags): { path: string; body: Record<string, unknown> } {
  const seen = new Set<string>();
  const unique: string[] = [];
  for (const raw of domains) {
    const domain = raw.trim();
    if (domain === "") throw new CliError("cert create: a domain is empty");
    if (seen.has(domain.toLowerCase())) continue;
    seen.add(domain.toLowerCase());
    unique.push(domain);
  }
  if (unique.length === 0) throw new CliError("cert create: give at least one domain");
  if (flags.selfSigned && flags.staging) {
    throw new CliError("cert create: --staging picks the ACME CA's staging directory; a --self-signed certificate uses no CA");
  }
  if (flags.directory !== undefined && (flags.selfSigned || flags.staging)) {
    throw new CliError("cert create: --directory names the ACME directory itself; it goes with neither --staging nor --self-signed");
  }
  if (flags.keyType !== undefined && !(KEY_TYPES as readonly string[]).includes(flags.keyType)) {
    throw new CliError(`--key-type ${JSON.stringify(flags.keyType)}: expected one of ${KEY_TYPES.join(", ")}`);
  }
  const body: Record<string, unknown> = { cert_name: name };
  if (unique.length === 1) body.domain = unique[0];
  else body.domains = unique;
  if (flags.email !== undefined) body.email = flags.email;
  if (flags.staging !== undefined) body.staging = flags.staging;
  if (flags.directory !== undefined) body.acme_directory_url = flags.directory;
  if (flags.selfSigned) body.acme = false;
  if (flags.keyType !== undefined) body.key_type = flags.keyType;
  return { path: unique.length === 1 ? `${BASE}/` : `${BASE}/multi-domain`, body };
}

/** A positive number of seconds (decimals allowed), or a CliError naming the flag. */
export function parseSeconds(flag: string, value: string): number {
  const seconds = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0)) throw new CliError(`${flag} ${JSON.stringify(value)}: expected a number of seconds above 0`);
  return seconds;
}

/** Where to poll: the status_url the API gave (a path, or a full URL on the API), else the usual path. */
export function statusPath(accepted: Partial<IssuanceAccepted>, name: string): string {
  const url = accepted.status_url;
  if (typeof url === "string" && url !== "") {
    if (url.startsWith("/")) return url;
    try {
      const parsed = new URL(url);
      return parsed.pathname + parsed.search;
    } catch {
      // Not a URL: fall through to the path every gateway serves.
    }
  }
  return `${path(name)}/status`;
}

const ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:";

/**
 * One line for an error object: an ACME problem document as "type: detail"
 * (the ACME namespace dropped), with its subproblems per identifier; anything
 * else as JSON.
 */
export function describeProblem(problem: Record<string, unknown> | null | undefined): string {
  if (!problem) return "";
  const one = (p: Record<string, unknown>): string => {
    const type = typeof p.type === "string" ? p.type.replace(ACME_ERROR_PREFIX, "") : "";
    const detail = typeof p.detail === "string" ? p.detail : "";
    return [type, detail].filter((s) => s !== "").join(": ");
  };
  const main = one(problem);
  if (main === "") return JSON.stringify(problem);
  const subproblems = Array.isArray(problem.subproblems) ? (problem.subproblems as Record<string, unknown>[]) : [];
  const parts = subproblems.map((sub) => {
    const identifier = sub.identifier as { value?: unknown } | undefined;
    const who = typeof identifier?.value === "string" ? `${identifier.value}: ` : "";
    return who + one(sub);
  });
  return parts.length === 0 ? main : `${main} (${parts.join("; ")})`;
}

/** The one line `--wait` prints when the state changes: "issuing: validating … (attempt 2)". */
export function progressLine(status: IssuanceStatus): string {
  const message = status.message ? `: ${status.message}` : "";
  const attempt = status.attempts > 1 ? ` (attempt ${status.attempts})` : "";
  return `${status.status}${message}${attempt}`;
}

/** Why issuance failed, in one line: the gateway's message and the CA's problem. */
export function failureMessage(status: IssuanceStatus): string {
  const problem = describeProblem(status.error);
  const because = [status.message, problem].filter((s) => s).join("; ");
  return `certificate ${JSON.stringify(status.cert_name)} failed${because ? `: ${because}` : ""}`;
}

export interface WaitOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Progress lines, each when the state changes. */
  readonly note: (text: string) => void;
}

/**
 * Polls a status URL until issuance is ready or failed and returns the last
 * status. Throws a CliError (exit 124) when `timeoutMs` passes first; the
 * gateway carries on with the issuance regardless.
 */
export async function waitForIssuance(client: ApiClient, url: string, name: string, options: WaitOptions): Promise<IssuanceStatus> {
  const start = Date.now();
  let last = "";
  for (;;) {
    const status = await client.get<IssuanceStatus>(url);
    const line = progressLine(status);
    if (line !== last) {
      options.note(`[${Math.round((Date.now() - start) / 1000)}s] ${line}`);
      last = line;
    }
    if (FINAL.has(status.status)) return status;
    const left = options.timeoutMs - (Date.now() - start);
    if (left <= 0) {
      throw new CliError(
        `certificate ${JSON.stringify(name)} is still ${status.status} after ${options.timeoutMs / 1000} s; ` +
          `the gateway carries on: portcullis cert status ${name}`,
        WAIT_TIMEOUT_EXIT,
      );
    }
    await Bun.sleep(Math.min(options.intervalMs, left));
  }
}

/** A certificate for output: the private key dropped unless asked for, whatever the server sent. */
export function withoutKey(cert: CertificateDetail, keepKey: boolean): CertificateDetail {
  if (keepKey || !("private_key_pem" in cert)) return cert;
  const { private_key_pem: _key, ...rest } = cert;
  return rest;
}

/** A table row for a domain list: "a.example.com, b.example.com". */
const joinDomains = (item: { domains?: string[] }) => (Array.isArray(item.domains) ? { domains: item.domains.join(", ") } : {});

/** json/yaml/csv: the API's object; table: the fields, then the PEM blocks as they are (to copy or redirect). */
export function renderCertificate(cert: CertificateDetail, format: OutputFormat, keepKey = false): string {
  const shown = withoutKey(cert, keepKey);
  if (format !== "table") return renderItem({ ...shown }, format);
  const { fullchain_pem, private_key_pem, ...fields } = shown;
  const parts = [renderItem({ ...fields, ...joinDomains(fields), issuer: certificateIssuer(fields) }, "table")];
  if (fullchain_pem) parts.push(fullchain_pem.trimEnd());
  if (private_key_pem) parts.push(private_key_pem.trimEnd());
  return parts.join("\n");
}

/** json/yaml/csv: the API's object; table: the domains and the error as readable lines. */
export function renderStatus(status: IssuanceStatus, format: OutputFormat): string {
  if (format !== "table") return renderItem({ ...status }, format);
  return renderItem({ ...status, ...joinDomains(status), error: status.error ? describeProblem(status.error) : null }, "table");
}

function renderAccepted(accepted: IssuanceAccepted, format: OutputFormat): string {
  if (format !== "table") return renderItem({ ...accepted }, format);
  return renderItem({ ...accepted, ...joinDomains(accepted) }, "table");
}

const isAccepted = (answer: object): answer is IssuanceAccepted => "status_url" in answer;

export interface WaitFlags {
  wait?: boolean;
  timeout?: string;
  interval?: string;
}

function addWaitOptions(command: Command): Command {
  return command
    .option("--wait", "follow issuance until the certificate is ready or failed (exit 1 if it failed)")
    .option("--timeout <seconds>", `with --wait: give up waiting after this long (exit ${WAIT_TIMEOUT_EXIT})`, String(DEFAULT_WAIT_SECONDS))
    .option("--interval <seconds>", "with --wait: seconds between status checks", String(DEFAULT_POLL_SECONDS));
}

/** --wait's limits in ms, checked before any request; undefined without --wait. */
export function waitLimits(flags: WaitFlags): { timeoutMs: number; intervalMs: number } | undefined {
  if (!flags.wait) return undefined;
  return {
    timeoutMs: parseSeconds("--timeout", flags.timeout ?? String(DEFAULT_WAIT_SECONDS)) * 1000,
    intervalMs: parseSeconds("--interval", flags.interval ?? String(DEFAULT_POLL_SECONDS)) * 1000,
  };
}

/**
 * What create and renew print. A self-signed answer is the certificate itself.
 * An accepted issuance without --wait prints the API's answer; with --wait,
 * progress goes to stderr, the final status to stdout, and a failure is a
 * CliError carrying the CA's reason.
 */
async function reportIssuance(
  answer: IssuanceAccepted | CertificateDetail,
  name: string,
  limits: ReturnType<typeof waitLimits>,
  context: CommandContext,
): Promise<void> {
  const { client, settings, print, note } = context();
  if (!isAccepted(answer)) {
    // Made at once (local CA, self-signed): one line; `cert show` or --format prints the certificate.
    print(renderChange(`created certificate ${answer.cert_name} (${certificateIssuer(answer)}) for ${answer.domains.join(", ")}${answer.expires_at ? `, valid until ${answer.expires_at}` : ""}`, { ...withoutKey(answer, false) }, settings.format));
    return;
  }
  if (!limits) {
    print(renderAccepted(answer, settings.format));
    if (settings.format === "table") print(`Issuing in the background. Follow it: portcullis cert status ${name}`);
    return;
  }
  if (answer.message) note(answer.message);
  const final = await waitForIssuance(client, statusPath(answer, name), name, { ...limits, note });
  print(renderStatus(final, settings.format));
  if (final.status === "failed") throw new CliError(failureMessage(final));
}

export function registerCertCommands(program: Command, context: CommandContext): void {
  const cert = program.command("cert").description("Manage certificates (ACME, the local CA for internal names, or self-signed)");

  const create = cert
    .command("create")
    .description("Request a certificate: from the ACME CA in the background (202), or self-signed at once")
    .argument("<name>", "certificate name")
    .argument("<domain...>", "one domain, or several for one multi-domain certificate (public *.example.com wildcards: --self-signed only; internal names such as app.test: signed by the local CA)")
    .option("--staging", "use the ACME CA's staging directory (untrusted certificates, generous rate limits)")
    .option("--no-staging", "use the production directory (server default)")
    .option("--directory <url>", "ACME directory to issue with: one the gateway allows (ACME_DIRECTORY_URL, ACME_STAGING_URL, ACME_ALLOWED_DIRECTORY_URLS)")
    .option("--email <email>", "ACME account email (default: your token's certificate email, else ADMIN_EMAIL)")
    .option("--self-signed", "make a self-signed certificate instead of asking a CA")
    .addOption(new Option("--key-type <type>", "key type of an ACME certificate (server default: rsa)").choices([...KEY_TYPES]));
  addWaitOptions(create).action(async (name: string, domains: string[], flags: CreateFlags & WaitFlags) => {
    const { path: endpoint, body } = createRequest(name, domains, flags);
    const limits = waitLimits(flags);
    const { client } = context();
    await reportIssuance(await client.post<IssuanceAccepted | CertificateDetail>(endpoint, body), name, limits, context);
  });

  cert
    .command("list")
    .description("List the certificates you can see")
    .action(async () => {
      const { client, settings, print } = context();
      const rows = await client.get<CertificateView[]>(`${BASE}/`);
      print(renderList(rows, CERTIFICATE_COLUMNS, settings.format, EMPTY_CERTIFICATES_HINT));
    });

  cert
    .command("show")
    .description("Show a certificate and its chain (PEM)")
    .argument("<name>", "certificate name")
    .option("--pem", "also print the private key (owner or admin)")
    .action(async (name: string, flags: { pem?: boolean }) => {
      const { client, settings, print } = context();
      const shown = await client.get<CertificateDetail>(`${path(name)}${flags.pem ? "?pem=true" : ""}`);
      print(renderCertificate(shown, settings.format, flags.pem === true));
    });

  cert
    .command("status")
    .description("Show where issuance or renewal stands, and the CA's reason if it failed")
    .argument("<name>", "certificate name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      print(renderStatus(await client.get<IssuanceStatus>(`${path(name)}/status`), settings.format));
    });

  const renew = cert
    .command("renew")
    .description("Renew a certificate now: ACME in the background (202), self-signed at once")
    .argument("<name>", "certificate name");
  addWaitOptions(renew).action(async (name: string, flags: WaitFlags) => {
    const limits = waitLimits(flags);
    const { client } = context();
    await reportIssuance(await client.post<IssuanceAccepted | CertificateDetail>(`${path(name)}/renew`), name, limits, context);
  });

  cert
    .command("delete")
    .description("Delete a certificate (refused while a proxy uses it, unless --force), or cancel a request still being issued")
    .argument("<name>", "certificate name")
    .option("--force", "delete it even if proxies use it; they fall back to the default certificate")
    .action(async (name: string, flags: { force?: boolean }) => {
      const { client, settings, print } = context();
      try {
        print(renderItem(await client.delete<Record<string, unknown>>(`${path(name)}${flags.force ? "?force=true" : ""}`), settings.format));
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && !flags.force) {
          throw new CliError(`${err.message}. With this CLI: portcullis cert delete ${name} --force`);
        }
        throw err;
      }
    });

  registerCertRootCommand(cert, context);
}
