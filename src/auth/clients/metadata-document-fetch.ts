/**
 * Fetching a client metadata document without letting a client_id point the
 * server at its own network: the host is resolved once, every address is
 * checked, and the request goes to the checked address (SNI and Host keep the
 * name), so DNS cannot answer differently between the check and the fetch.
 * No redirects, a deadline and a size cap bound what one client_id can cost.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { OAuthError } from "../oauth-error";
import { isPublicAddress } from "./address-policy";
import { readBounded } from "../../core/bounded-body";

/** `fetch`, or a wrapper of it (tests add `tls.ca`): it must pass `init.tls` and `init.headers` on. */
export type DocumentFetch = (input: string, init: BunFetchRequestInit) => Promise<Response>;

export interface DocumentFetchOptions {
  readonly allowPrivateAddresses: boolean;
  readonly fetch: DocumentFetch;
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

export interface FetchedDocument {
  readonly text: string;
  readonly headers: Headers;
}

const invalidClient = (why: string) => new OAuthError("invalid_client", why);

export async function fetchMetadataDocument(url: URL, options: DocumentFetchOptions): Promise<FetchedDocument> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const target = await beforeDeadline(pinnedTarget(url, options.allowPrivateAddresses), signal);
  let response: Response;
  try {
    response = await options.fetch(target.href, {
      method: "GET",
      headers: { accept: "application/json", host: url.host },
      redirect: "manual",
      signal,
      tls: target.serverName ? { serverName: target.serverName } : undefined,
    });
  } catch (error) {
    throw invalidClient(`the client metadata document could not be fetched: ${describe(error, signal)}`);
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel();
    throw invalidClient(`the client metadata document answered with a redirect (HTTP ${response.status}), which is not followed`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw invalidClient(`the client metadata document answered HTTP ${response.status}`);
  }
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(response.headers.get("content-type") ?? "")) {
    await response.body?.cancel();
    throw invalidClient("the client metadata document is not served as application/json");
  }
  const text = await readLimited(response, options.maxBytes, signal);
  return { text, headers: response.headers };
}

/** The URL to connect to (an address literal) and the name to present for TLS. */
async function pinnedTarget(url: URL, allowPrivate: boolean): Promise<{ href: string; serverName: string | null }> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    if (!allowPrivate && !isPublicAddress(host)) throw invalidClient("the client_id URL points at a non-public address");
    return { href: url.href, serverName: null };
  }
  let addresses: string[];
  try {
    addresses = (await lookup(host, { all: true })).map((entry) => entry.address);
  } catch {
    throw invalidClient("the client_id URL's host does not resolve");
  }
  if (addresses.length === 0) throw invalidClient("the client_id URL's host does not resolve");
  // One private answer is enough to refuse: the resolver could hand it out on the next query.
  if (!allowPrivate && !addresses.every(isPublicAddress)) throw invalidClient("the client_id URL's host resolves to a non-public address");
  const address = addresses.find((a) => isIP(a) === 4) ?? addresses[0]!;
  const pinned = new URL(url.href);
  pinned.hostname = isIP(address) === 6 ? `[${address}]` : address;
  return { href: pinned.href, serverName: host };
}

async function readLimited(response: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  const tooBig = () => invalidClient(`the client metadata document is larger than ${maxBytes} bytes`);
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw tooBig();
  }
  let bytes: Uint8Array | null;
  try {
    bytes = await readBounded(response.body, maxBytes);
  } catch (error) {
    throw invalidClient(`the client metadata document could not be read: ${describe(error, signal)}`);
  }
  if (bytes === null) throw tooBig();
  return new TextDecoder().decode(bytes);
}

/** DNS lookups cannot be aborted; the deadline still holds for the caller. */
function beforeDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(invalidClient("the client metadata document could not be fetched: timed out"));
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function describe(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) return "timed out";
  return error instanceof Error ? error.message.slice(0, 200) : "network error";
}
