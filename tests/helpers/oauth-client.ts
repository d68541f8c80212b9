/**
 * A scripted OAuth client for tests: it talks to a test gateway's edge with
 * the auth hostname in the Host header, follows the login through the local
 * GitHub (or OIDC) server the way a browser would, and stops at the client's
 * redirect URI, whose query it returns.
 */
import { createHash, randomBytes } from "node:crypto";
import { formBody, pageForm } from "./consent-form";
import type { TestGateway } from "./gateway-in-process";

export const AUTH_HOST = "auth.example.test";

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** A request to the gateway's edge for `host`, without following redirects. */
export function edgeRequest(gw: TestGateway, host: string, path: string, init: RequestInit = {}): Promise<Response> {
  return gw.get(host, path, { redirect: "manual", ...init });
}

export async function register(gw: TestGateway, metadata: Record<string, unknown>, host = AUTH_HOST): Promise<any> {
  const res = await edgeRequest(gw, host, "/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(metadata),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export interface AuthorizeParams {
  client_id: string;
  redirect_uri?: string;
  code_challenge?: string;
  code_challenge_method?: string;
  state?: string;
  scope?: string;
  resource?: string[];
  response_type?: string;
  proxy_hostname?: string;
}

export function authorizePath(params: AuthorizeParams): string {
  const query = new URLSearchParams();
  query.set("response_type", params.response_type ?? "code");
  for (const [name, value] of Object.entries(params)) {
    if (name === "resource" || name === "response_type" || value === undefined) continue;
    query.set(name, String(value));
  }
  for (const resource of params.resource ?? []) query.append("resource", resource);
  return `/authorize?${query}`;
}

/**
 * Follows redirects like a browser until the Location leaves the gateway and
 * the identity provider, i.e. reaches the client's redirect URI. Gateway URLs
 * (any host on the edge's scheme) go to the edge with their Host header, with
 * the cookies the gateway set (the sign-in's browser binding), as a browser
 * would send them. On the consent page the user clicks Approve (or Deny), i.e.
 * the page's form is submitted with that button; `consent: "stop"` stops
 * there instead.
 */
export async function followLogin(
  gw: TestGateway,
  firstPath: string,
  host = AUTH_HOST,
  stopAt?: string,
  options: { consent?: "approve" | "deny" | "stop" } = {},
): Promise<{ final: URL | null; response: Response }> {
  const consent = options.consent ?? "approve";
  const jar = new Map<string, string>();
  const remember = (response: Response) => {
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const eq = pair!.indexOf("=");
      const value = pair!.slice(eq + 1);
      if (value && !/max-age=0/i.test(cookie)) jar.set(pair!.slice(0, eq), value);
      else jar.delete(pair!.slice(0, eq));
    }
  };
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  let response = await edgeRequest(gw, host, firstPath);
  remember(response);
  let current = new URL(`http://${host}${firstPath}`);
  for (let hops = 0; hops < 10; hops++) {
    const location = response.headers.get("location");
    if (response.status === 200 && consent !== "stop" && response.headers.get("content-type")?.startsWith("text/html")) {
      const html = await response.text();
      const form = pageForm(html);
      if (!form?.buttons.approve) return { final: null, response: new Response(html, response) };
      const target = new URL(form.action, current);
      response = await edgeRequest(gw, target.host, target.pathname + target.search, {
        method: form.method,
        headers: { cookie: cookieHeader(), origin: current.origin, "content-type": "application/x-www-form-urlencoded" },
        body: formBody(form, consent),
      });
      remember(response);
      current = target;
      continue;
    }
    if (response.status < 300 || response.status >= 400 || !location) return { final: null, response };
    const url = new URL(location, current);
    current = url;
    if (stopAt && url.href.startsWith(stopAt)) return { final: url, response };
    if (url.hostname === "127.0.0.1" || url.hostname === "localhost") {
      // The identity provider (a loopback test server).
      response = await fetch(url, { redirect: "manual" });
    } else {
      response = await edgeRequest(gw, url.host, url.pathname + url.search, { headers: { cookie: cookieHeader() } });
      remember(response);
    }
  }
  throw new Error("too many redirects");
}

/** Runs authorize → login → callback and returns the query the client's redirect URI receives. */
export async function authorizeThroughLogin(gw: TestGateway, params: AuthorizeParams, host = AUTH_HOST): Promise<URLSearchParams> {
  const redirectUri = params.redirect_uri!;
  const { final, response } = await followLogin(gw, authorizePath(params), host, redirectUri);
  if (!final) throw new Error(`login stopped at ${response.status}: ${await response.text()}`);
  return final.searchParams;
}

export async function tokenRequest(
  gw: TestGateway,
  form: Record<string, string | string[]>,
  options: { basic?: [string, string]; host?: string } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) for (const v of [value].flat()) body.append(name, v);
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (options.basic) headers.authorization = `Basic ${btoa(`${encodeURIComponent(options.basic[0])}:${encodeURIComponent(options.basic[1])}`)}`;
  const res = await edgeRequest(gw, options.host ?? AUTH_HOST, "/token", { method: "POST", headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

export async function formPost(gw: TestGateway, path: string, form: Record<string, string>, basic?: [string, string]): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (basic) headers.authorization = `Basic ${btoa(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`)}`;
  return edgeRequest(gw, AUTH_HOST, path, { method: "POST", headers, body: new URLSearchParams(form) });
}
