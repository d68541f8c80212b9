/**
 * The HTTP-01 self-check: before the CA is asked to validate a name, fetch
 * `http://<name>/.well-known/acme-challenge/<token>` the way the CA will
 * (the name through this machine's resolver, on HTTP_PORT) and expect this
 * challenge's key authorization back. A name that does not resolve, a port
 * nothing answers on, or another server answering then fails at once with
 * that reason, instead of as a CA error much later (or never: acme-client's
 * own check retries a name that does not resolve for over a minute and waits
 * on a peer that never answers for ever).
 *
 * One attempt, no retries: every node answers from Redis, where the answer
 * was stored before this runs. The caller's signal bounds it.
 */

export function selfCheckUrl(domain: string, token: string, port: number): string {
  return `http://${domain}${port === 80 ? "" : `:${port}`}/.well-known/acme-challenge/${token}`;
}

/** Why a fetch failed, in words an operator can act on. */
function reasonOf(err: unknown, domain: string): string {
  const code = (err as { code?: unknown }).code;
  if (code === "ENOTFOUND") return `${domain} does not resolve (ENOTFOUND)`;
  if (code === "ECONNREFUSED") return "nothing accepts connections there (ECONNREFUSED)";
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === "string" && !message.includes(code) ? `${message} (${code})` : message;
}

/** Resolves when the URL answers with `keyAuthorization`; otherwise throws an Error whose message is the reason. */
export async function checkChallengeAnswer(url: string, domain: string, keyAuthorization: string, signal: AbortSignal): Promise<void> {
  let response: Response;
  let body: string;
  try {
    // Redirects are followed, and HTTPS ones accepted with any certificate, as Let's Encrypt does for HTTP-01.
    response = await fetch(url, { signal, redirect: "follow", tls: { rejectUnauthorized: false }, headers: { "user-agent": "portcullis-self-check" } });
    body = await response.text();
  } catch (err) {
    if (signal.aborted) throw err; // the deadline's own message says it better
    throw new Error(reasonOf(err, domain));
  }
  if (response.status !== 200) throw new Error(`it answered HTTP ${response.status}, not the challenge (does ${domain} point at this gateway?)`);
  if (body.trimEnd() !== keyAuthorization) throw new Error(`it answered, but not with this challenge's key authorization (does ${domain} point at this gateway?)`);
}
