/**
 * Backup and restore with the real binary and its embedded Redis: a populated
 * gateway (a proxy to a local backend, a user token owning a proxy of its own,
 * a proxy with its own GitHub app whose secret is sealed with secrets.key, an
 * OAuth client and an access token it was issued) is backed up while it
 * serves (`just backup`), and restored into a new data dir; the gateway
 * started there serves the proxy, accepts the user token (still seeing only
 * its own proxy) and the restored admin-token file, still verifies the access
 * token issued before the backup, and signs in through the proxy's own GitHub
 * app, which needs its secret decrypted. Restores that must not happen — into
 * the running gateway's dir, into a dir with data, from a truncated archive —
 * are refused, and the last writes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestGateway } from "../helpers/gateway-in-process";
import { namedBackend } from "../helpers/gateway-in-process";
import { ensureBinary, ROOT, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { justBinary } from "../helpers/just-dry-run";
import { authorizeThroughLogin, AUTH_HOST, edgeRequest, formPost, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { tempDir } from "../helpers/temp";

const APP = "app.example.test";
const USER_PROXY = "user.example.test";
const RESOURCE = `https://${APP}`;
const REDIRECT = "http://127.0.0.1:7777/callback";

let github: GitHubTestServer;
let backend: ReturnType<typeof namedBackend>;
let original: RunningGateway | undefined;
let restored: RunningGateway | undefined;
const originalDir = tempDataDir();
const restoredDir = join(tempDir("parent"), "restored-data");
const archive = join(tempDir("backups"), "gateway.tar.gz");

const gatewayEnv = () => ({
  BASE_DOMAIN: "example.test",
  GITHUB_CLIENT_ID: "gh-default-app",
  GITHUB_CLIENT_SECRET: "gh-default-secret",
  GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
  GITHUB_API_BASE_URL: github.apiBaseUrl,
  OAUTH_ALLOWED_GITHUB_USERS: "alice",
  LOG_LEVEL: "INFO",
});

/** The edge of a gateway process, in the shape the OAuth test helpers drive. */
function edgeOf(gateway: RunningGateway): TestGateway {
  const get = (host: string, path = "/", init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${gateway.httpPort}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), host } });
  return { get } as unknown as TestGateway;
}

async function api(gateway: RunningGateway, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(gateway.apiUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** A full sign-in through APP's own GitHub app; returns the tokens. */
async function signIn(gateway: RunningGateway, client: { client_id: string; client_secret: string }) {
  const pkce = pkcePair();
  const query = await authorizeThroughLogin(edgeOf(gateway), {
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    code_challenge: pkce.challenge,
    code_challenge_method: "S256",
    state: "st",
    resource: [RESOURCE],
    proxy_hostname: APP,
  });
  const issued = await tokenRequest(edgeOf(gateway), { grant_type: "authorization_code", code: query.get("code")!, redirect_uri: REDIRECT, code_verifier: pkce.verifier }, { basic: [client.client_id, client.client_secret] });
  expect(issued.status).toBe(200);
  return issued.body as { access_token: string; refresh_token: string };
}

const cliEnv = (dataDir: string) => ({ PORTCULLIS_DATA_DIR: dataDir, HOME: tempDir("home") });

let adminToken: string;
let userToken: string;
let client: { client_id: string; client_secret: string };
let accessToken: string;

beforeAll(async () => {
  await ensureBinary();
  github = startGitHubServer();
  github.addApp("gh-default-app", "gh-default-secret");
  github.addApp("app-own-github-app", "app-own-github-secret");
  github.setUser({ id: 4242, login: "alice", name: "Alice", emails: [{ email: "alice@example.test", primary: true, verified: true }] });
  backend = namedBackend("backend");

  original = await startGatewayProcess({ dataDir: originalDir, env: gatewayEnv() });
  await original.waitForHealthy();
  adminToken = readFileSync(join(originalDir, "admin-token"), "utf8").trim();

  expect((await api(original, adminToken, "POST", "/api/v1/proxy/targets", { hostname: APP, target_url: `http://127.0.0.1:${backend.port}`, enable_https: false })).status).toBe(201);
  const sealed = await api(original, adminToken, "POST", `/api/v1/proxy/targets/${APP}/github-oauth`, { github_client_id: "app-own-github-app", github_client_secret: "app-own-github-secret" });
  expect(sealed.status).toBe(200);
  const user = await api(original, adminToken, "POST", "/api/v1/tokens/", { name: "alice-token", cert_email: null });
  expect(user.status).toBe(201);
  userToken = user.json.token;
  expect((await api(original, userToken, "POST", "/api/v1/proxy/targets", { hostname: USER_PROXY, target_url: `http://127.0.0.1:${backend.port}`, enable_https: false })).status).toBe(201);

  client = await register(edgeOf(original), { client_name: "server app", redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token"] });
  accessToken = (await signIn(original, client)).access_token;
  expect(github.exchanges.at(-1)).toMatchObject({ clientId: "app-own-github-app", succeeded: true });
}, 120_000);

afterAll(async () => {
  await restored?.stop();
  await original?.stop();
  backend?.stop(true);
  await github?.stop();
});

describe("backup of a running gateway, restore into a new data dir", () => {
  test.skipIf(!justBinary)("`just backup FILE` writes the archive while the gateway serves (mode 0600; data only)", async () => {
    const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), "backup", archive], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("home"), PORTCULLIS_DATA_DIR: originalDir },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect({ code, stderr: stderr.replace(/It holds secrets[^\n]*\n/, "") }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toMatch(new RegExp(`^backup of \\d+ keys from embedded Redis written to ${archive} \\(\\d+ bytes\\)\\n$`));
    expect(stderr).toContain("It holds secrets (secrets.key, the admin token");
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const members = await new Bun.Archive(readFileSync(archive)).files();
    expect([...members.keys()].sort()).toEqual(["admin-token", "manifest.json", "redis.rdb", "secrets.key"]);
    const manifest = JSON.parse(await members.get("manifest.json")!.text());
    expect(manifest).toMatchObject({ format: "portcullis-backup", format_version: 1, source: { redis: "embedded", database: 0 }, secrets_key: "included" });
    expect(manifest.key_count).toBeGreaterThan(5);
    // The gateway kept serving.
    expect((await edgeOf(original!).get(APP, "/still")).status).toBe(200);
  });

  test("restore into the running gateway's data dir is refused", async () => {
    const run = await runCli(["restore", archive, "--force"], cliEnv(originalDir));
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`portcullis: a gateway is running on ${originalDir} (pid ${original!.child.pid}): stop it before restoring (just down)\n`);
  });

  test("a truncated archive is refused with the reason, and nothing is written", async () => {
    const truncated = join(tempDir("backups"), "truncated.tar.gz");
    const bytes = readFileSync(archive);
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
    const run = await runCli(["restore", truncated], cliEnv(restoredDir));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^portcullis: ${truncated}: not a readable backup archive \\(.+\\); nothing was restored\\n$`));
    expect(existsSync(restoredDir)).toBe(false);
  });

  test("restore into a new data dir; the gateway started there is the one backed up", async () => {
    await original!.stop();
    const run = await runCli(["restore", archive], cliEnv(restoredDir));
    expect(run.stderr).toBe("Start the gateway with these settings: portcullis serve\n");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^restored \\d+ keys into the embedded Redis of ${restoredDir}\\nwrote ${restoredDir}/secrets.key, ${restoredDir}/admin-token\\n$`));
    expect(readFileSync(join(restoredDir, "secrets.key"))).toEqual(readFileSync(join(originalDir, "secrets.key")));

    restored = await startGatewayProcess({ dataDir: restoredDir, env: gatewayEnv() });
    await restored.waitForHealthy();
    // It found its data: no admin token generated, no new secrets key.
    expect(restored.output()).not.toContain("admin token generated");

    // The proxy serves.
    const served = await edgeOf(restored).get(APP, "/hello?x=1");
    expect(served.status).toBe(200);
    expect(((await served.json()) as any).path).toBe("/hello?x=1");

    // The restored admin-token file is the admin token; the user token authenticates and still sees only its own proxy.
    expect(readFileSync(join(restoredDir, "admin-token"), "utf8").trim()).toBe(adminToken);
    const asAdmin = await api(restored, adminToken, "GET", "/api/v1/proxy/targets");
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.json.map((p: any) => p.hostname).sort()).toEqual([APP, USER_PROXY]);
    const asUser = await api(restored, userToken, "GET", "/api/v1/proxy/targets");
    expect(asUser.status).toBe(200);
    expect(asUser.json.map((p: any) => p.hostname)).toEqual([USER_PROXY]);
    const userTokens = await api(restored, userToken, "GET", "/api/v1/tokens/");
    expect(userTokens.json.map((t: any) => t.name)).toEqual(["alice-token"]);
    expect((await api(restored, "pc_not_a_token", "GET", "/api/v1/proxy/targets")).status).toBe(401);

    // The access token issued before the backup still verifies: introspection and the edge's /verify.
    const introspected = (await (await formPost(edgeOf(restored), "/introspect", { token: accessToken }, [client.client_id, client.client_secret])).json()) as any;
    expect(introspected).toMatchObject({ active: true, client_id: client.client_id, username: "alice" });
    const verified = await edgeRequest(edgeOf(restored), AUTH_HOST, "/verify", { headers: { authorization: `Bearer ${accessToken}` } });
    expect(verified.status).toBe(200);

    // The proxy's own GitHub app: its sealed secret decrypts with the restored secrets.key, or GitHub would refuse the exchange.
    const before = github.exchanges.length;
    const again = await signIn(restored, client);
    expect(github.exchanges.slice(before)).toEqual([expect.objectContaining({ clientId: "app-own-github-app", succeeded: true })]);
    expect(again.access_token).toBeString();
  }, 60_000);

  test("restore into a data dir holding data is refused, naming it", async () => {
    await restored!.stop();
    const run = await runCli(["restore", archive], cliEnv(restoredDir));
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      `portcullis: ${restoredDir} is not empty: it holds redis/appendonlydir, secrets.key, admin-token. Restore into a new data dir (PORTCULLIS_DATA_DIR), or add --force to replace them\n`,
    );
  });
});
