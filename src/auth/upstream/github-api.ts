/**
 * The three GitHub calls a web-flow login needs: the code exchange and the
 * user's profile and emails. Every failure, including GitHub's habit of
 * answering a refused exchange with 200 and an `error` field, becomes an
 * UpstreamError whose message never carries the code, a token or a secret.
 * @see https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#web-application-flow
 */
import { VERSION } from "../../core/version";
import { UpstreamError } from "./upstream-login";

export interface GitHubEndpoints {
  /** https://github.com, or the GitHub Enterprise host. */
  readonly oauthBaseUrl: string;
  /** https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise. */
  readonly apiBaseUrl: string;
}

export interface GitHubUser {
  readonly id: number;
  readonly login: string;
  readonly name: string | null;
  /** The public profile email, if the user chose one (GitHub only allows verified ones). */
  readonly email: string | null;
}

export interface GitHubEmail {
  readonly email: string;
  readonly primary: boolean;
  readonly verified: boolean;
}

export interface CodeExchange {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly code: string;
  readonly redirectUri: string;
  readonly codeVerifier: string | null;
}

/** GitHub's error codes of the exchange, in words a user can act on. */
const EXCHANGE_ERRORS: Record<string, string> = {
  bad_verification_code: "GitHub did not accept the login code (it was wrong, used already or expired); please log in again",
  incorrect_client_credentials: "GitHub rejected this gateway's OAuth app credentials; an administrator must check the client ID and secret",
  redirect_uri_mismatch: "GitHub refused the callback URL; it must match the OAuth app's authorization callback URL",
  unverified_user_email: "GitHub refused the login: the account's email is not verified",
};

export class GitHubApi {
  constructor(
    private readonly endpoints: GitHubEndpoints,
    private readonly timeoutMs: number,
  ) {}

  /** The access token for a code. */
  async exchangeCode(exchange: CodeExchange): Promise<string> {
    const form = new URLSearchParams({
      client_id: exchange.clientId,
      client_secret: exchange.clientSecret,
      code: exchange.code,
      redirect_uri: exchange.redirectUri,
    });
    if (exchange.codeVerifier) form.set("code_verifier", exchange.codeVerifier);
    const { status, body } = await this.call("the code exchange", `${this.endpoints.oauthBaseUrl}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    const answer = record(body);
    if (typeof answer.error === "string") {
      throw new UpstreamError(EXCHANGE_ERRORS[answer.error] ?? `GitHub refused the login (${printable(answer.error)})`);
    }
    if (status !== 200) throw statusError("the code exchange", status, answer);
    if (typeof answer.access_token !== "string" || answer.access_token === "") {
      throw new UpstreamError("GitHub's answer to the code exchange holds no access token");
    }
    return answer.access_token;
  }

  async user(accessToken: string): Promise<GitHubUser> {
    const { status, body } = await this.api("/user", accessToken);
    const user = record(body);
    if (status !== 200) throw statusError("/user", status, user);
    if (!Number.isSafeInteger(user.id) || (user.id as number) <= 0 || typeof user.login !== "string" || user.login === "") {
      throw new UpstreamError("GitHub's /user answer lacks the account's id or login");
    }
    return {
      id: user.id as number,
      login: user.login,
      name: typeof user.name === "string" && user.name !== "" ? user.name : null,
      email: typeof user.email === "string" && user.email !== "" ? user.email : null,
    };
  }

  /** The account's emails; null when the token may not read them (an app without the user:email scope or permission). */
  async emails(accessToken: string): Promise<GitHubEmail[] | null> {
    const { status, body } = await this.api("/user/emails", accessToken);
    if (status === 403 || status === 404) return null;
    if (status !== 200) throw statusError("/user/emails", status, record(body));
    if (!Array.isArray(body)) throw new UpstreamError("GitHub's /user/emails answer is not a list");
    return body
      .map(record)
      .filter((e) => typeof e.email === "string")
      .map((e) => ({ email: e.email as string, primary: e.primary === true, verified: e.verified === true }));
  }

  private api(path: string, accessToken: string) {
    return this.call(path, `${this.endpoints.apiBaseUrl}${path}`, {
      headers: {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${accessToken}`,
        "x-github-api-version": "2022-11-28",
      },
    });
  }

  /** One request under the timeout (headers and body alike); the answer must be JSON. */
  private async call(what: string, url: string, init: RequestInit): Promise<{ status: number; body: unknown }> {
    const seconds = this.timeoutMs / 1000;
    try {
      const response = await fetch(url, {
        ...init,
        // GitHub requires a User-Agent on API calls.
        headers: { ...(init.headers as Record<string, string>), "user-agent": `Portcullis/${VERSION}` },
        // A redirect would carry the Authorization header to wherever it points.
        redirect: "error",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      try {
        return { status: response.status, body: JSON.parse(text) };
      } catch {
        throw new UpstreamError(`GitHub answered ${what} with HTTP ${response.status} and no JSON`);
      }
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      const name = (error as Error)?.name;
      if (name === "TimeoutError" || name === "AbortError") throw new UpstreamError(`GitHub did not answer ${what} within ${seconds} s`);
      throw new UpstreamError(`GitHub could not be reached for ${what}: ${printable((error as Error)?.message ?? String(error))}`);
    }
  }
}

function statusError(what: string, status: number, body: Record<string, unknown>): UpstreamError {
  const said = typeof body.message === "string" ? `: ${printable(body.message)}` : "";
  if (status === 401) return new UpstreamError(`GitHub rejected the access token at ${what} (HTTP 401${said})`);
  if (status >= 500) return new UpstreamError(`GitHub is failing: ${what} answered HTTP ${status}${said}; try again later`);
  return new UpstreamError(`GitHub refused ${what} (HTTP ${status}${said})`);
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Text from the other side, made safe to put in a log line or a page: one line, bounded. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, 200);
}
