/**
 * `acme_directory_url` in a certificate request: only a directory the operator
 * allowed (ACME_DIRECTORY_URL, ACME_STAGING_URL, ACME_ALLOWED_DIRECTORY_URLS).
 * The gateway fetches whatever directory a request names, so an open field
 * would let any token holder make it call any address (SSRF); the check runs
 * before anything is queued, and the job carries the operator's own spelling.
 */
import { invalid } from "../../core/errors";

/** The allowed directory `requested` names (compared as parsed URLs), or a 400 listing the allowed ones. */
export function allowedDirectory(requested: string, allowed: readonly string[]): string {
  const wanted = normalized(requested);
  const match = wanted === null ? undefined : allowed.find((url) => normalized(url) === wanted);
  if (match !== undefined) return match;
  const shown = JSON.stringify(requested.length > 200 ? `${requested.slice(0, 200)}…` : requested);
  throw invalid(
    `acme_directory_url: ${shown} is not an ACME directory this gateway may use; allowed: ${allowed.join(", ")} (ACME_DIRECTORY_URL, ACME_STAGING_URL, ACME_ALLOWED_DIRECTORY_URLS)`,
  );
}

/** Scheme and host case, default port and an empty path spelled one way; everything else must match exactly. */
function normalized(url: string): string | null {
  try {
    return new URL(url).href;
  } catch {
    return null;
  }
}
