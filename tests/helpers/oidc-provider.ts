/**
 * A real OpenID Connect provider (npm `oidc-provider`, on node:http under Bun)
 * on a loopback port, with one client and a set of accounts. No human logs in:
 * its interaction page finishes the login at once as the current account and
 * grants what was asked, so a client that just follows redirects — without a
 * cookie jar, like a plain fetch() — reaches the redirect URI with a code.
 *
 * The provider signs with a key the test knows (`signingKey`), so a test can
 * forge an ID token the provider "could" have sent and check it is refused.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";

export type AccountClaims = Record<string, unknown>;

export interface OidcTestProvider {
  readonly issuer: string;
  /** The provider's private signing key (RS256), with its kid. */
  readonly signingKey: JWK;
  /** Who "logs in" from now on, and the claims the provider discloses for them. */
  setAccount(accountId: string, claims?: AccountClaims): void;
  stop(): Promise<void>;
}

export interface OidcTestProviderOptions {
  clientId: string;
  /** null registers a public client (token_endpoint_auth_method none). */
  clientSecret: string | null;
  redirectUris: string[];
  /** Put every claim in the ID token too (by default, like many providers, profile claims come only from UserInfo). */
  claimsInIdToken?: boolean;
  /** The host of the issuer URL (the server listens on 127.0.0.1 either way). */
  issuerHost?: string;
}

export async function startOidcProvider(options: OidcTestProviderOptions): Promise<OidcTestProvider> {
  const { default: Provider } = await quietly(
    // @ts-expect-error oidc-provider ships no types (its @types package is separate); the part used here is typed below.
    () => import("oidc-provider") as Promise<{ default: ProviderClass }>,
  );
  const accounts = new Map<string, AccountClaims>();
  let current: string | null = null;

  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const signingKey: JWK = { ...(await exportJWK(privateKey)), kid: "test-key-1", alg: "RS256", use: "sig" };

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://${options.issuerHost ?? "127.0.0.1"}:${(server.address() as AddressInfo).port}`;

  const provider = await quietly(
    async () =>
      new Provider(issuer, {
        clients: [
          {
            client_id: options.clientId,
            ...(options.clientSecret === null ? { token_endpoint_auth_method: "none" } : { client_secret: options.clientSecret }),
            redirect_uris: options.redirectUris,
          },
        ],
        jwks: { keys: [signingKey as never] },
        findAccount: async (_ctx: unknown, sub: string) =>
          accounts.has(sub) ? { accountId: sub, claims: async () => ({ ...accounts.get(sub), sub }) } : undefined,
        claims: {
          openid: ["sub"],
          email: ["email", "email_verified"],
          profile: ["name", "preferred_username", "nickname"],
        },
        conformIdTokenClaims: !options.claimsInIdToken,
        features: { devInteractions: { enabled: false } },
        interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
        ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
      }),
  );
  const handle = provider.callback();

  /** Logs the current account in and grants the scopes asked for, as a consent screen would. */
  const finishInteraction = async (uid: string, res: ServerResponse) => {
    const interaction = await provider.Interaction.find(uid);
    if (!interaction || !current) {
      res.writeHead(400).end(current ? "unknown interaction" : "no account: call setAccount()");
      return;
    }
    const grant = new provider.Grant({ accountId: current, clientId: String(interaction.params.client_id) });
    grant.addOIDCScope(String(interaction.params.scope ?? "openid"));
    interaction.result = { login: { accountId: current }, consent: { grantId: await grant.save() } };
    await interaction.save(interaction.exp! - Math.floor(Date.now() / 1000));
    res.writeHead(303, { location: interaction.returnTo }).end();
  };

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    const interaction = /^\/interaction\/([\w-]+)$/.exec(path);
    if (interaction) {
      finishInteraction(interaction[1]!, res).catch((error) => res.writeHead(500).end(String(error)));
      return;
    }
    // The provider resumes a login only for the browser that began it, known by a
    // cookie; a cookie-less client gets the cookie a browser would have sent.
    const resume = /^\/auth\/([\w-]+)$/.exec(path);
    if (resume && !/(?:^|;\s*)_interaction_resume=/.test(req.headers.cookie ?? "")) {
      req.headers.cookie = [req.headers.cookie, `_interaction_resume=${resume[1]}`].filter(Boolean).join("; ");
    }
    handle(req, res);
  });

  return {
    issuer,
    signingKey,
    setAccount(accountId, claims = {}) {
      accounts.set(accountId, claims);
      current = accountId;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The slice of oidc-provider's API this helper uses. */
interface ProviderClass {
  new (issuer: string, configuration: Record<string, unknown>): {
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    Interaction: {
      find(uid: string): Promise<
        | { params: Record<string, unknown>; result?: unknown; exp?: number; returnTo: string; save(ttl: number): Promise<string> }
        | undefined
      >;
    };
    Grant: new (fields: { accountId: string; clientId: string }) => { addOIDCScope(scope: string): void; save(): Promise<string> };
  };
}

/**
 * oidc-provider warns that Bun is not Node and that its in-memory store is for
 * development: both true and expected in a test, so kept out of the output.
 */
async function quietly<T>(make: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes("oidc-provider WARNING")) warn(...args);
  };
  try {
    return await make();
  } finally {
    console.warn = warn;
  }
}

/**
 * What a browser does after it is sent to an identity provider, minus the
 * human: follow redirects until one points at `redirectUri`, and return that
 * URL (code, state, iss) without requesting it.
 */
export async function followToRedirectUri(url: string, redirectUri: string, maxHops = 10): Promise<URL> {
  let next = url;
  for (let hop = 0; hop < maxHops; hop++) {
    const response = await fetch(next, { redirect: "manual" });
    const location = response.headers.get("location");
    if (!location || response.status < 300 || response.status > 399) {
      throw new Error(`${next} answered ${response.status} instead of a redirect: ${(await response.text()).slice(0, 300)}`);
    }
    await response.body?.cancel();
    next = new URL(location, next).href;
    if (next.startsWith(redirectUri)) return new URL(next);
  }
  throw new Error(`no redirect to ${redirectUri} within ${maxHops} hops`);
}
