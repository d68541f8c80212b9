/**
 * What an OAuth endpoint needs to know about a request that the dispatcher
 * established (it overwrites these headers unless the peer is a trusted proxy):
 * the client's IP, the scheme and host the client used, and the form body.
 */
import { readBounded } from "../../core/bounded-body";
import { OAuthError } from "../oauth-error";

/** Form bodies at /token, /revoke, /introspect are a few hundred bytes; refuse big ones unread. */
const MAX_FORM_BYTES = 64 * 1024;

/** The token of `Authorization: Bearer <token>` (RFC 6750 §2.1), or null. */
export function bearerToken(request: Request): string | null {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(request.headers.get("authorization") ?? "");
  return match ? match[1]! : null;
}

/** The client's address as the dispatcher reports it in x-real-ip (it replaces any value the client sent). */
export function clientIp(request: Request): string | null {
  const ip = request.headers.get("x-real-ip")?.trim() ?? "";
  // Bounded to address characters: the value becomes part of a Redis key.
  return /^[0-9A-Fa-f:.]{2,45}$/.test(ip) ? ip : null;
}

/** The hostname (no port) the client asked for. */
export function requestHost(request: Request): string {
  const raw = request.headers.get("x-forwarded-host") ?? request.headers.get("host") ?? new URL(request.url).host;
  return raw.split(",")[0]!.trim().toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
}

/** `scheme://host[:port]` as the client reached us, for URLs we send browsers to. */
export function requestOrigin(request: Request): string {
  const proto = request.headers.get("x-forwarded-proto") === "https" ? "https" : request.headers.get("x-forwarded-proto") === "http" ? "http" : new URL(request.url).protocol.slice(0, -1);
  const host = (request.headers.get("x-forwarded-host") ?? request.headers.get("host") ?? new URL(request.url).host).split(",")[0]!.trim().toLowerCase();
  return `${proto}://${host}`;
}

/** The application/x-www-form-urlencoded body RFC 6749 §3.2 prescribes, with each parameter at most once. */
export async function readForm(request: Request, multiValued: readonly string[] = []): Promise<URLSearchParams> {
  const type = request.headers.get("content-type")?.split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded");
  }
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > MAX_FORM_BYTES) throw new OAuthError("invalid_request", `request body larger than ${MAX_FORM_BYTES} bytes`);
  const bytes = await readBounded(request.body, MAX_FORM_BYTES);
  if (bytes === null) throw new OAuthError("invalid_request", `request body larger than ${MAX_FORM_BYTES} bytes`);
  const form = new URLSearchParams(new TextDecoder().decode(bytes));
  rejectRepeated(form, multiValued);
  return form;
}

/** RFC 6749 §3.1: parameters other than the multi-valued ones (resource) must not repeat. */
export function rejectRepeated(params: URLSearchParams, multiValued: readonly string[] = []): void {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name) && !multiValued.includes(name)) throw new OAuthError("invalid_request", `parameter ${name} appears more than once`);
    seen.add(name);
  }
}

/** A parameter's value; a present but empty value counts as absent (RFC 6749 §3.1). */
export function param(params: URLSearchParams, name: string): string | null {
  const value = params.get(name);
  return value === null || value === "" ? null : value;
}

export function requireParam(params: URLSearchParams, name: string): string {
  const value = param(params, name);
  if (value === null) throw new OAuthError("invalid_request", `missing parameter ${name}`);
  return value;
}

/** One cookie's value from the Cookie header, or null. */
export function readCookie(request: Request, name: string): string | null {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}
