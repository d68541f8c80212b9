/**
 * A stand-in for github.com on a loopback port, since no machine here reaches
 * GitHub. It speaks the OAuth web flow and the two REST calls a login makes,
 * in GitHub's shapes, including its quirks: a refused code exchange is a 200
 * with an `error` field, and the API lives under a base URL of its own
 * (`/api/v3`, as on GitHub Enterprise) to prove base URLs are honoured.
 * The authorize page approves at once as the current user: no human clicks.
 */
import { createHash, randomBytes } from "node:crypto";
import { secretsEqual } from "../../src/core/api-token";

export interface GitHubTestUser {
  id: number;
  login: string;
  name?: string | null;
  /** The public profile email. */
  email?: string | null;
  emails?: { email: string; primary: boolean; verified: boolean }[];
}

/** Makes the next answers of one endpoint misbehave. */
export interface GitHubFault {
  endpoint: "token" | "user" | "emails";
  status?: number;
  /** Replaces the JSON body (e.g. an HTML error page). */
  body?: string;
  /** Waits this long before answering. */
  delayMs?: number;
}

export interface GitHubTestServer {
  readonly oauthBaseUrl: string;
  readonly apiBaseUrl: string;
  addApp(clientId: string, clientSecret: string): void;
  setUser(user: GitHubTestUser): void;
  /** Every code exchange asked for, in order: which app presented which code, and whether it got a token. */
  readonly exchanges: Array<{ clientId: string; code: string; succeeded: boolean }>;
  /** Every API request, to check its headers. */
  readonly apiRequests: Array<{ path: string; headers: Record<string, string> }>;
  setFault(fault: GitHubFault | null): void;
  stop(): Promise<void>;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  scope: string;
  user: GitHubTestUser;
}

const BAD_CODE = {
  error: "bad_verification_code",
  error_description: "The code passed is incorrect or expired.",
  error_uri: "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
};

export function startGitHubServer(options: { apiPath?: string } = {}): GitHubTestServer {
  const apiPath = options.apiPath ?? "/api/v3";
  const apps = new Map<string, string>();
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, { user: GitHubTestUser; scope: string }>();
  const exchanges: GitHubTestServer["exchanges"] = [];
  const apiRequests: GitHubTestServer["apiRequests"] = [];
  let currentUser: GitHubTestUser | null = null;
  let fault: GitHubFault | null = null;

  const json = (body: unknown, status = 200) => Response.json(body, { status });

  const faulty = async (endpoint: GitHubFault["endpoint"]): Promise<Response | null> => {
    if (fault?.endpoint !== endpoint) return null;
    if (fault.delayMs) await Bun.sleep(fault.delayMs);
    if (fault.status === undefined && fault.body === undefined) return null;
    return new Response(fault.body ?? JSON.stringify({ message: "Server Error" }), {
      status: fault.status ?? 200,
      headers: { "content-type": fault.body ? "text/html" : "application/json" },
    });
  };

  const authorize = (url: URL): Response => {
    const q = url.searchParams;
    const clientId = q.get("client_id");
    // GitHub shows an HTML 404 page for an unknown app, and never redirects with an error for it.
    if (!clientId || !apps.has(clientId)) return new Response("<h1>404</h1>", { status: 404, headers: { "content-type": "text/html" } });
    const redirectUri = q.get("redirect_uri");
    if (!redirectUri) return new Response("redirect_uri is required by this test server", { status: 400 });
    const target = new URL(redirectUri);
    if (!currentUser) return new Response("no user is logged in: call setUser()", { status: 500 });
    const method = q.get("code_challenge_method") ?? "plain";
    const challenge = q.get("code_challenge");
    if (challenge && method !== "S256") {
      target.searchParams.set("error", "invalid_request");
      target.searchParams.set("error_description", "code_challenge_method must be S256");
    } else {
      const code = randomBytes(10).toString("hex");
      codes.set(code, { clientId, redirectUri, challenge, scope: q.get("scope") ?? "", user: structuredClone(currentUser) });
      target.searchParams.set("code", code);
    }
    if (q.has("state")) target.searchParams.set("state", q.get("state")!);
    return new Response(null, { status: 302, headers: { location: target.href } });
  };

  const accessToken = async (request: Request): Promise<Response> => {
    const failure = await faulty("token");
    if (failure) return failure;
    const type = request.headers.get("content-type") ?? "";
    const params: Record<string, string> = type.includes("application/json")
      ? ((await request.json()) as Record<string, string>)
      : Object.fromEntries(new URLSearchParams(await request.text()));
    const clientId = params.client_id ?? "";
    const code = params.code ?? "";
    const answer = (body: Record<string, string>, succeeded: boolean) => {
      exchanges.push({ clientId, code, succeeded });
      // GitHub answers form-encoded unless asked for JSON.
      if ((request.headers.get("accept") ?? "").includes("application/json")) return json(body);
      return new Response(new URLSearchParams(body).toString(), { headers: { "content-type": "application/x-www-form-urlencoded" } });
    };
    const secret = apps.get(clientId);
    if (secret === undefined || !secretsEqual(secret, params.client_secret ?? "")) {
      return answer({ error: "incorrect_client_credentials", error_description: "The client_id and/or client_secret passed are incorrect." }, false);
    }
    const issued = codes.get(code);
    codes.delete(code); // single use, even when the exchange fails
    if (!issued || issued.clientId !== clientId) return answer(BAD_CODE, false);
    if (params.redirect_uri !== undefined && params.redirect_uri !== issued.redirectUri) {
      return answer({ error: "redirect_uri_mismatch", error_description: "The redirect_uri MUST match the registered callback URL for this application." }, false);
    }
    if (issued.challenge !== null) {
      const verifier = params.code_verifier ?? "";
      if (!secretsEqual(createHash("sha256").update(verifier).digest("base64url"), issued.challenge)) return answer(BAD_CODE, false);
    }
    const token = "gho_" + randomBytes(18).toString("base64url");
    tokens.set(token, { user: issued.user, scope: issued.scope.split(/[\s,]+/).filter(Boolean).join(",") });
    return answer({ access_token: token, token_type: "bearer", scope: tokens.get(token)!.scope }, true);
  };

  const api = async (request: Request, path: string): Promise<Response> => {
    apiRequests.push({ path, headers: Object.fromEntries(request.headers) });
    const endpoint = path === "/user" ? "user" : path === "/user/emails" ? "emails" : null;
    if (!endpoint) return json({ message: "Not Found", documentation_url: "https://docs.github.com/rest" }, 404);
    const failure = await faulty(endpoint);
    if (failure) return failure;
    const match = /^(?:Bearer|token) (\S+)$/i.exec(request.headers.get("authorization") ?? "");
    const grant = match ? tokens.get(match[1]!) : undefined;
    if (!grant) return json({ message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" }, 401);
    const user = grant.user;
    if (endpoint === "user") return json(userJson(user));
    const scopes = grant.scope.split(",");
    if (!scopes.includes("user:email") && !scopes.includes("user")) return json({ message: "Not Found", documentation_url: "https://docs.github.com/rest" }, 404);
    return json((user.emails ?? []).map((e) => ({ ...e, visibility: e.primary ? "private" : null })));
  };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === "GET" && url.pathname === "/login/oauth/authorize") return authorize(url);
      if (request.method === "POST" && url.pathname === "/login/oauth/access_token") return accessToken(request);
      if (request.method === "GET" && url.pathname.startsWith(apiPath + "/")) return api(request, url.pathname.slice(apiPath.length));
      return new Response("Not Found", { status: 404 });
    },
  });
  const base = `http://127.0.0.1:${server.port}`;

  return {
    oauthBaseUrl: base,
    apiBaseUrl: base + apiPath,
    addApp: (clientId, clientSecret) => void apps.set(clientId, clientSecret),
    setUser: (user) => void (currentUser = structuredClone(user)),
    exchanges,
    apiRequests,
    setFault: (next) => void (fault = next),
    stop: () => server.stop(true),
  };
}

/** GET /user as GitHub shapes it (the fields a login can use, and enough others to look real). */
function userJson(user: GitHubTestUser) {
  return {
    login: user.login,
    id: user.id,
    node_id: Buffer.from(`04:User${user.id}`).toString("base64"),
    avatar_url: `https://avatars.githubusercontent.com/u/${user.id}?v=4`,
    html_url: `https://github.com/${user.login}`,
    type: "User",
    site_admin: false,
    name: user.name ?? null,
    company: null,
    email: user.email ?? null,
    created_at: "2020-01-01T00:00:00Z",
  };
}

/**
 * The settings that make a gateway sign users in through `github`: registers
 * an OAuth app with the stand-in and names it and the stand-in's URLs.
 */
export function gitHubSignInSettings(github: GitHubTestServer): Record<string, string> {
  github.addApp("gh-app", "gh-secret");
  return {
    GITHUB_CLIENT_ID: "gh-app",
    GITHUB_CLIENT_SECRET: "gh-secret",
    GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
    GITHUB_API_BASE_URL: github.apiBaseUrl,
  };
}
