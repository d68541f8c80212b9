/**
 * The pieces an MCP client application supplies to the MCP TypeScript SDK
 * when it talks to a server behind Portcullis, for tests:
 *
 * - `gatewayFetch`: plumbing only. Requests for `*.<domain>` go to the
 *   gateway's HTTPS port on 127.0.0.1 with the name as Host header and SNI,
 *   trusting the given CA, as if DNS pointed there; anything else goes out
 *   as is. Methods, headers, bodies and redirect modes the SDK chose are
 *   passed through untouched.
 * - `LoopbackCallback`: the client's redirect URI, `http://127.0.0.1:<port>/callback`,
 *   a small server that records what the authorization server sends back.
 * - `TestBrowser`: a user agent with one cookie jar per host that follows
 *   redirects by hand (so cookies set on the way, like the authorization
 *   server's sign-in binding, come back as a browser would send them), and
 *   answers the consent page as its user would: by submitting its form with
 *   the Approve (or Deny) button.
 * - `InMemoryOAuthProvider`: an `OAuthClientProvider` keeping the client
 *   registration, tokens, PKCE verifier and discovery state in memory; its
 *   `redirectToAuthorization` opens the URL in the browser and waits for the
 *   code at the callback, as a desktop MCP client does.
 */
import type { OAuthClientProvider, OAuthDiscoveryState } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { formBody, pageForm } from "./consent-form";

export interface GatewayRoute {
  /** Hostnames ending with this suffix (e.g. ".example.test") are sent to the gateway. */
  readonly domainSuffix: string;
  readonly httpsPort: number;
  /** PEM the client trusts for those names. */
  readonly ca: string;
}

/** One exchange the plumbing carried, as the SDK (or the browser) made it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly requestHeaders: Headers;
  /** A form or text body as sent (OAuth requests), else null. */
  readonly requestBody: string | null;
  readonly responseHeaders: Headers;
}

/** A fetch that resolves the gateway's names to the gateway, recording each exchange in `log` when given. */
export function gatewayFetch(route: GatewayRoute, log?: SeenRequest[]): FetchLike {
  return async (input, init) => {
    if (input instanceof Request) throw new Error("gatewayFetch takes a URL and an init, as the MCP SDK calls it");
    const url = new URL(input);
    const method = init?.method ?? "GET";
    const requestHeaders = new Headers(init?.headers);
    const body = init?.body;
    const requestBody = typeof body === "string" ? body : body instanceof URLSearchParams ? body.toString() : null;
    let response: Response;
    if (url.protocol === "https:" && url.hostname.endsWith(route.domainSuffix)) {
      const headers = new Headers(requestHeaders);
      headers.set("host", url.host);
      response = await fetch(`https://127.0.0.1:${route.httpsPort}${url.pathname}${url.search}`, {
        ...init,
        headers,
        tls: { ca: route.ca, serverName: url.hostname },
      } as RequestInit);
    } else {
      response = await fetch(url, init);
    }
    log?.push({ method, url: url.href, status: response.status, requestHeaders, requestBody, responseHeaders: response.headers });
    return response;
  };
}

/** The client's redirect URI: records each query it receives and answers like a native app's callback page. */
export class LoopbackCallback {
  private readonly server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const url = new URL(request.url);
      if (url.pathname !== "/callback") return new Response("Not Found", { status: 404 });
      this.received.push(url.searchParams);
      return new Response("Signed in. You can close this window.", { headers: { "content-type": "text/plain" } });
    },
  });
  readonly received: URLSearchParams[] = [];
  readonly url = `http://127.0.0.1:${this.server.port}/callback`;

  stop(): void {
    this.server.stop(true);
  }
}

/** A user agent: a cookie jar per host, redirects followed by hand, every URL it loaded in `visited`. */
export class TestBrowser {
  /** What the user clicks on a consent page; "stop" leaves the page as it is. */
  consentAnswer: "approve" | "deny" | "stop" = "approve";
  /** The URL of every consent page the user answered (or stopped at). */
  readonly consentPages: string[] = [];
  /** The HTML of each of those pages, in the same order: what the user read before clicking. */
  readonly consentHtml: string[] = [];
  /** host → cookie name → value and Path (host-only cookies; Domain is not needed here). */
  readonly jars = new Map<string, Map<string, { value: string; path: string }>>();
  readonly visited: string[] = [];
  /** Every cookie a response set, and every cookie header sent, by URL, in order. */
  readonly cookieLog: Array<{ url: string; set?: string; sent?: string }> = [];

  constructor(private readonly fetchFn: FetchLike) {}

  /** Loads `url` and follows redirects; returns the last response (not a redirect). */
  async open(url: string | URL): Promise<Response> {
    let current = new URL(url);
    let submit: { method: string; body: URLSearchParams; origin: string } | null = null;
    for (let hop = 0; hop < 15; hop++) {
      this.visited.push(current.href);
      const headers: Record<string, string> = { accept: "text/html,application/xhtml+xml" };
      const cookies = [...(this.jars.get(current.host) ?? [])].filter(([, c]) => pathMatches(current.pathname, c.path));
      if (cookies.length > 0) {
        headers.cookie = cookies.map(([name, c]) => `${name}=${c.value}`).join("; ");
        this.cookieLog.push({ url: current.href, sent: headers.cookie });
      }
      if (submit) Object.assign(headers, { "content-type": "application/x-www-form-urlencoded", origin: submit.origin });
      const response = await this.fetchFn(current, { headers, redirect: "manual", ...(submit ? { method: submit.method, body: submit.body.toString() } : {}) });
      submit = null;
      this.remember(current, response);
      const location = response.headers.get("location");
      if (response.status === 200 && response.headers.get("content-type")?.startsWith("text/html")) {
        const html = await response.text();
        const form = pageForm(html);
        if (!form?.buttons.approve) return new Response(html, response);
        this.consentPages.push(current.href);
        this.consentHtml.push(html);
        if (this.consentAnswer === "stop") return new Response(html, response);
        // The user clicks a button: the form is posted to its action, from this page's origin.
        submit = { method: form.method, body: formBody(form, this.consentAnswer), origin: current.origin };
        current = new URL(form.action, current);
        continue;
      }
      if (response.status < 300 || response.status >= 400 || !location) return response;
      await response.body?.cancel();
      current = new URL(location, current);
    }
    throw new Error(`too many redirects, last ${current.href}`);
  }

  private remember(url: URL, response: Response): void {
    const host = url.host;
    for (const line of response.headers.getSetCookie()) {
      this.cookieLog.push({ url: url.href, set: line });
      const [pair, ...attributes] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const path = attributes.map((a) => a.trim()).find((a) => /^path=/i.test(a))?.slice(5) || "/";
      if (!this.jars.has(host)) this.jars.set(host, new Map());
      if (value === "" || /max-age=0/i.test(line)) this.jars.get(host)!.delete(name);
      else this.jars.get(host)!.set(name, { value, path });
    }
  }
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath.charAt(cookiePath.length) === "/";
}

/** What `redirectToAuthorization` saw: the URL the SDK built, and how the sign-in ended. */
export interface AuthorizationAttempt {
  readonly authorizationUrl: URL;
  /** The query the redirect URI received, or null when the browser never got there. */
  readonly callback: URLSearchParams | null;
  /** The last page when the browser never reached the redirect URI. */
  readonly stoppedAt: { status: number; body: string } | null;
}

/**
 * An in-memory OAuthClientProvider for a public client (no secret) that
 * registers dynamically, like MCP desktop clients.
 */
export class InMemoryOAuthProvider implements OAuthClientProvider {
  private client: OAuthClientInformationMixed | undefined;
  private savedTokens: OAuthTokens | undefined;
  private verifier: string | undefined;
  private discovery: OAuthDiscoveryState | undefined;
  /** Every sign-in the SDK asked the user for. */
  readonly attempts: AuthorizationAttempt[] = [];
  /** Every token set the SDK saved, oldest first. */
  readonly tokenHistory: OAuthTokens[] = [];
  readonly invalidated: string[] = [];

  /**
   * `clientMetadataUrl`: the https URL of this client's metadata document;
   * the SDK then uses it as the client_id where the server supports that,
   * instead of registering.
   */
  constructor(
    private readonly browser: TestBrowser,
    private readonly callback: LoopbackCallback,
    private readonly clientName = "Portcullis MCP test client",
    readonly clientMetadataUrl?: string,
  ) {}

  get redirectUrl(): string {
    return this.callback.url;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.clientName,
      redirect_uris: [this.callback.url],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }

  /** A fresh state per sign-in; the callback must bring it back (checked by the test, as a client checks it). */
  state(): string {
    return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.client;
  }

  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.client = information;
  }

  tokens(): OAuthTokens | undefined {
    return this.savedTokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.savedTokens = tokens;
    this.tokenHistory.push(tokens);
  }

  /** Replaces the stored access token (e.g. with an expired or garbage one), keeping the refresh token. */
  replaceAccessToken(accessToken: string): void {
    if (!this.savedTokens) throw new Error("no tokens saved yet");
    this.savedTokens = { ...this.savedTokens, access_token: accessToken };
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.verifier = codeVerifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error("no PKCE verifier saved");
    return this.verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    this.invalidated.push(scope);
    if (scope === "all" || scope === "client") this.client = undefined;
    if (scope === "all" || scope === "tokens") this.savedTokens = undefined;
    if (scope === "all" || scope === "verifier") this.verifier = undefined;
    if (scope === "all" || scope === "discovery") this.discovery = undefined;
  }

  /** The user's browser: sign in, and come back to the redirect URI. */
  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const before = this.callback.received.length;
    const last = await this.browser.open(authorizationUrl);
    const callback = this.callback.received.length > before ? this.callback.received.at(-1)! : null;
    this.attempts.push({ authorizationUrl, callback, stoppedAt: callback ? null : { status: last.status, body: await last.text() } });
  }

  /** The code of the latest sign-in; throws with what the browser saw when there is none. */
  latestCode(): string {
    const attempt = this.attempts.at(-1);
    if (!attempt) throw new Error("no sign-in was started");
    const code = attempt.callback?.get("code");
    if (!code) {
      const why = attempt.callback ? `callback query ${attempt.callback}` : `browser stopped at ${attempt.stoppedAt?.status}: ${attempt.stoppedAt?.body.slice(0, 300)}`;
      throw new Error(`the sign-in produced no code (${why})`);
    }
    return code;
  }
}
