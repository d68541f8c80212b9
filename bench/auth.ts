/**
 * Scenario (e): authenticated proxying. A second proxy target on the same
 * backend as (a), with edge auth in forward mode, no resource_endpoint, the
 * user allowlist (OAUTH_ALLOWED_GITHUB_USERS) and the audience check active;
 * wrk sends `Authorization: Bearer <token>` on every request, a real access
 * token the gateway minted (POST /api/v1/oauth/test-tokens). (a) and (e) run
 * in alternating rounds, so (e) ÷ (a) compares neighbouring minutes of the
 * same gateway process.
 *
 * The audience. Over plain HTTP the edge computes the resource
 * `http://bench-auth.local`, which the authorization server refuses to put in
 * a token (a non-loopback resource must be https). The token is therefore for
 * `https://bench-auth.local` — what the edge computes for this host over
 * HTTPS — and the proxy lists it in `auth_allowed_audiences`. Per request the
 * edge still computes the request's resource URL, compares the token's aud
 * with it (a miss) and then with the allowed audiences (a hit): every step of
 * the production check, plus one comparison. Running (e) over HTTPS instead
 * would take the exact-match path, but then TLS, absent from (a) and from
 * nginx plain, would sit in the ratio and hide the cost of auth.
 *
 * Before any load, each check is shown to be live (a 401 without a token and
 * with a foreign audience, a 403 for a user outside the allowlist, the
 * identity headers at the backend): otherwise (e) could be measuring fast
 * refusals or a proxy that checks nothing.
 */
import type { BenchOptions } from "./args";
import { PLAIN_HOST, type RunningPortcullis } from "./portcullis";
import type { HttpScenario } from "./report";
import { measureHttp, type HttpTarget } from "./scenarios";

export const AUTH_HOST = "bench-auth.local";
/** The login of the measured token; on the allowlist. */
export const AUTH_USER = "bench-user";
/** A login the allowlist does not name, for the pre-check. */
const OUTSIDER = "bench-outsider";

/** Settings the gateway needs for the authorization server and the allowlist; they change nothing for proxies without auth. */
export const AUTH_ENV: Readonly<Record<string, string>> = Object.freeze({
  BASE_DOMAIN: "bench.local",
  // A few names, so the allowlist is a real lookup and not a one-entry special case.
  OAUTH_ALLOWED_GITHUB_USERS: `alice,${AUTH_USER},carol`,
});

/** Alternating rounds of (a) and (e); the rows show the best of each (other work on 2 shared cores only ever slows a run down). */
export const AUTH_ROUNDS = 3;

export const PLAIN_NAME = "portcullis (a) proxy";
export const PLAIN_DESCRIPTION = `one proxy target (${PLAIN_HOST}), no routes, no auth; best of ${AUTH_ROUNDS} rounds alternating with (e).`;
export const AUTH_NAME = "portcullis (e) auth (JWT)";
/** Issue 7: authenticated proxying at ≥ 0.9× the gateway without auth and ≥ 0.9× nginx. */
export const AUTH_TARGET = 0.9;

/** One authenticated proxy: (e) is the default; bench/auth-profile.ts adds others beside it. */
export interface AuthVariant {
  readonly host: string;
  /** auth_pass_headers: identity headers to the backend (on in (e), the proxies' default). */
  readonly passHeaders: boolean;
}

export const AUTH_VARIANT: AuthVariant = Object.freeze({ host: AUTH_HOST, passHeaders: true });

/** The token's only aud for a variant's host (see the file comment). */
export const audienceOf = (variant: AuthVariant) => `https://${variant.host}`;

export function authDescription(variant: AuthVariant = AUTH_VARIANT): string {
  const headers = variant.passHeaders ? "identity headers (X-Auth-*) to the backend" : "auth_pass_headers off";
  return (
    `proxy ${variant.host} on the same backend as (a), auth_enabled, forward mode, no resource_endpoint, users from OAUTH_ALLOWED_GITHUB_USERS, ` +
    `${headers}, bearer stripped; every request carries an RS256 access token minted by POST /api/v1/oauth/test-tokens for ${audienceOf(variant)} ` +
    `(listed in auth_allowed_audiences, as plain HTTP computes http://${variant.host}); best of ${AUTH_ROUNDS} rounds alternating with (a).`
  );
}

export interface AuthTokens {
  /** aud audienceOf(variant), login AUTH_USER: what wrk sends. */
  readonly valid: string;
  /** aud https://PLAIN_HOST (a host this gateway serves, so strict resource validation mints it). */
  readonly foreignAudience: string;
  /** aud audienceOf(variant), login OUTSIDER. */
  readonly outsider: string;
}

/** Creates the variant's proxy with auth on and mints the tokens (the proxy PLAIN_HOST must exist, for the foreign audience). */
export async function configureAuthProxy(gateway: RunningPortcullis, backendUrl: string, variant: AuthVariant = AUTH_VARIANT): Promise<AuthTokens> {
  const audience = audienceOf(variant);
  await gateway.create("/api/v1/proxy/targets/", { hostname: variant.host, target_url: backendUrl });
  await gateway.post(
    `/api/v1/proxy/targets/${variant.host}/auth`,
    {
      auth_enabled: true,
      auth_mode: "forward",
      // null: the allowlist is OAUTH_ALLOWED_GITHUB_USERS (AUTH_ENV).
      auth_required_users: null,
      auth_allowed_audiences: [audience],
      auth_pass_headers: variant.passHeaders,
      auth_forward_bearer: false,
    },
    200,
  );
  const mint = async (resource: string, username: string) => {
    const body = await gateway.create("/api/v1/oauth/test-tokens", { resource, username, lifetime_seconds: 3_600 });
    const aud = body.aud as string[];
    if (aud.length !== 1 || aud[0] !== resource) throw new Error(`test token for ${resource} came back with aud ${JSON.stringify(aud)}`);
    return String(body.access_token);
  };
  return {
    valid: await mint(audience, AUTH_USER),
    foreignAudience: await mint(`https://${PLAIN_HOST}`, AUTH_USER),
    outsider: await mint(audience, OUTSIDER),
  };
}

/** The HTTP target of scenario (e), or of another variant under another name. */
export function authTarget(httpPort: number, token: string, variant: AuthVariant = AUTH_VARIANT, name = AUTH_NAME): HttpTarget {
  return { name, description: authDescription(variant), port: httpPort, host: variant.host, path: "/", headers: [`Authorization: Bearer ${token}`] };
}

/**
 * Shows each check is live before anything is measured; throws when one is not.
 * Returns the note for the report.
 */
export async function checkAuthEnforced(httpPort: number, tokens: AuthTokens, variant: AuthVariant = AUTH_VARIANT): Promise<string> {
  const get = async (path: string, token?: string) => {
    const headers: Record<string, string> = { Host: variant.host };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(`http://127.0.0.1:${httpPort}${path}`, { headers, signal: AbortSignal.timeout(5_000) });
    return { status: response.status, challenge: response.headers.get("www-authenticate") ?? "", body: await response.text() };
  };
  const expect = (what: string, seen: { status: number; challenge: string; body: string }, status: number, challenge?: RegExp) => {
    if (seen.status !== status || (challenge && !challenge.test(seen.challenge))) {
      throw new Error(`auth pre-check "${what}": expected ${status}${challenge ? ` with WWW-Authenticate ${challenge}` : ""}, got ${seen.status} ${seen.challenge} ${seen.body.slice(0, 200)}`);
    }
  };
  expect("no token", await get("/"), 401, /^Bearer /);
  expect("foreign audience", await get("/", tokens.foreignAudience), 401, /error="invalid_token"/);
  expect("user outside the allowlist", await get("/", tokens.outsider), 403);
  const seen = await get("/__headers", tokens.valid);
  expect("valid token", seen, 200);
  const headers = JSON.parse(seen.body) as Record<string, string>;
  if (headers.authorization !== undefined) throw new Error("auth pre-check: the bearer token reached the backend");
  const expectedName = variant.passHeaders ? AUTH_USER : undefined;
  if (headers["x-auth-user-name"] !== expectedName) {
    throw new Error(`auth pre-check: the backend saw X-Auth-User-Name ${JSON.stringify(headers["x-auth-user-name"])}, expected ${JSON.stringify(expectedName)}`);
  }
  const identity = variant.passHeaders ? `X-Auth-User-Name: ${AUTH_USER} at the backend` : "no identity headers at the backend";
  return `Scenario (e) check (${variant.host}): no token → 401, a token for https://${PLAIN_HOST} → 401 invalid_token, a user outside the allowlist → 403, the measured token → 200 with ${identity} and no Authorization header.`;
}

const rps = (s: HttpScenario | undefined) => s?.result?.requestsPerSecond;

/** The run with more requests per second (a failed one counts as none). */
export function best(runs: readonly HttpScenario[]): HttpScenario {
  return runs.reduce((a, b) => ((rps(b) ?? -1) > (rps(a) ?? -1) ? b : a));
}

const times = (value: number) => `${value.toFixed(2)}×`;
const verdict = (value: number) => (value >= AUTH_TARGET ? "meets" : "misses");

/**
 * The report's line on issue 7's target: (e) ÷ (a) per round and for the best
 * of each, and (e) ÷ nginx for the best and the worst round of (e), since
 * nginx ran once. Pure.
 */
export function authRatioNote(
  rounds: readonly (readonly [plain: HttpScenario, auth: HttpScenario])[],
  nginxRps: number | undefined,
  nginxForwardingRps?: number,
): string | undefined {
  const plain = rps(best(rounds.map((r) => r[0])));
  const authRuns = rounds.map((r) => rps(r[1])).filter((v): v is number => v !== undefined);
  if (plain === undefined || authRuns.length === 0) return undefined;
  const bestAuth = Math.max(...authRuns);
  const perRound = rounds.map(([a, e]) => (rps(a) && rps(e) ? times(rps(e)! / rps(a)!) : "–"));
  const vsPlain = bestAuth / plain;
  let text = `Authenticated proxying (target ≥ ${AUTH_TARGET.toFixed(2)}× both): (e) ÷ (a) = ${times(vsPlain)}, ${verdict(vsPlain)} (best of ${rounds.length} alternating rounds each; per round ${perRound.join(", ")})`;
  if (nginxRps) {
    const vsNginx = bestAuth / nginxRps;
    const worst = Math.min(...authRuns) / nginxRps;
    text += `; (e) ÷ nginx = ${times(vsNginx)}, ${verdict(vsNginx)} (worst round of (e) ${times(worst)})`;
  } else {
    text += "; (e) ÷ nginx: no nginx result in this run";
  }
  // The like-for-like reference: nginx sending the forwarding headers (a) and (e) send.
  if (nginxForwardingRps) text += `; (e) ÷ nginx + forwarding headers = ${times(bestAuth / nginxForwardingRps)}, (a) ÷ it = ${times(plain / nginxForwardingRps)}`;
  return `${text}.`;
}

/**
 * Sets up (e), then measures (a) and (e) in alternating rounds. (a) is
 * measured even when (e) cannot be set up; (e) then reports why.
 */
export async function benchAuth(
  gateway: RunningPortcullis,
  backendUrl: string,
  options: BenchOptions,
  nginxRps: number | undefined,
  nginxForwardingRps?: number,
): Promise<{ plain: HttpScenario; auth: HttpScenario; notes: string[] }> {
  const plainTarget: HttpTarget = { name: PLAIN_NAME, description: PLAIN_DESCRIPTION, port: gateway.httpPort, host: PLAIN_HOST, path: "/" };
  const notes: string[] = [];
  let target: HttpTarget | undefined;
  let setupError: string | undefined;
  try {
    const tokens = await configureAuthProxy(gateway, backendUrl);
    notes.push(await checkAuthEnforced(gateway.httpPort, tokens));
    target = authTarget(gateway.httpPort, tokens.valid);
  } catch (err) {
    setupError = (err as Error).message.split("\n")[0]!;
    console.error(`  could not set up scenario (e): ${setupError}`);
  }
  if (!target) {
    const plain = await measureHttp(plainTarget, options);
    return { plain, auth: { name: AUTH_NAME, description: authDescription(), command: "", error: setupError }, notes };
  }
  const rounds: [HttpScenario, HttpScenario][] = [];
  for (let round = 0; round < AUTH_ROUNDS; round++) {
    rounds.push([await measureHttp(plainTarget, options), await measureHttp(target, options)]);
  }
  const note = authRatioNote(rounds, nginxRps, nginxForwardingRps);
  if (note) notes.push(note);
  return { plain: best(rounds.map((r) => r[0])), auth: best(rounds.map((r) => r[1])), notes };
}
