/**
 * `portcullis export --include-secrets` and `apply` of what it wrote, through
 * the real CLI against two real in-process gateways on their own Redis (and
 * their own secrets keys): a proxy's GitHub OAuth app moves from A to B with
 * its secret encrypted in the file, a wrong passphrase applies nothing, and a
 * second apply changes nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { PASSPHRASE_ENV } from "../../src/cli/passphrase";
import { startGitHubServer, type GitHubTestServer } from "../helpers/github-server";
import { authorizeThroughLogin, pkcePair, register, tokenRequest } from "../helpers/oauth-client";
import { cliSession } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("home");
const DIR = tempDir("config-secrets");
const SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const PASSPHRASE = "tide pool lantern 4417";
let redisA: TestRedis;
let redisB: TestRedis;
let a: TestGateway;
let b: TestGateway;
const urlA = () => `http://127.0.0.1:${a.gateway.apiPort}`;
const urlB = () => `http://127.0.0.1:${b.gateway.apiPort}`;
const adminA = cliSession(urlA, GATEWAY_ADMIN, HOME);
const adminB = cliSession(urlB, GATEWAY_ADMIN, HOME);
const withEnvA = cliSession(urlA, GATEWAY_ADMIN, HOME, { [PASSPHRASE_ENV]: PASSPHRASE });
const withEnvB = cliSession(urlB, GATEWAY_ADMIN, HOME, { [PASSPHRASE_ENV]: PASSPHRASE });
const secretOf = async (gw: TestGateway, host: string) => (await gw.api("GET", `/api/v1/proxy/targets/${host}/github-oauth/secret`)).json;
let github: GitHubTestServer;
let passFile: string;
let secretFile: string;

beforeAll(async () => {
  [redisA, redisB] = await Promise.all([startTestRedis(), startTestRedis()]);
  // B's logins go to a stand-in GitHub that knows the proxy's app: a login through it proves B uses the applied secret.
  github = startGitHubServer();
  github.addApp("Ov23liExport0001", SECRET);
  github.setUser({ id: 9, login: "erin", emails: [{ email: "erin@example.test", primary: true, verified: true }] });
  [a, b] = await Promise.all([
    startTestGateway(redisA),
    startTestGateway(redisB, {
      BASE_DOMAIN: "example.test",
      GITHUB_OAUTH_BASE_URL: github.oauthBaseUrl,
      GITHUB_API_BASE_URL: github.apiBaseUrl,
      OAUTH_ALLOWED_GITHUB_USERS: "*",
      MCP_RESOURCE_VALIDATION_STRICT: "false",
    }),
  ]);
  const made = [
    await a.api("POST", "/api/v1/proxy/targets/", { hostname: "app.example.test", target_url: "http://127.0.0.1:7000" }),
    await a.api("POST", "/api/v1/proxy/targets/", { hostname: "plain.example.test", target_url: "http://127.0.0.1:7001" }),
    await a.api("POST", "/api/v1/proxy/targets/app.example.test/github-oauth", { github_client_id: "Ov23liExport0001", github_client_secret: SECRET }),
  ];
  expect(made.map((r) => r.status).filter((s) => s >= 300)).toEqual([]);
  passFile = join(DIR, "passphrase");
  await Bun.write(passFile, `${PASSPHRASE}\n`);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redisA?.stop(), redisB?.stop(), github?.stop()]);
});

/** A GitHub login for the proxy through B, ending in a token exchange. */
async function loginThroughProxy(gw: TestGateway, proxyHostname: string) {
  const redirect = "http://127.0.0.1:7777/callback";
  const client = await register(gw, { redirect_uris: [redirect], token_endpoint_auth_method: "none", grant_types: ["authorization_code"] });
  const pkce = pkcePair();
  const query = await authorizeThroughLogin(gw, {
    client_id: client.client_id,
    redirect_uri: redirect,
    code_challenge: pkce.challenge,
    code_challenge_method: "S256",
    state: "s",
    resource: [`https://${proxyHostname}`],
    proxy_hostname: proxyHostname,
  });
  expect(query.get("error")).toBeNull();
  return tokenRequest(gw, { grant_type: "authorization_code", code: query.get("code")!, redirect_uri: redirect, code_verifier: pkce.verifier, client_id: client.client_id });
}

describe("export --include-secrets", () => {
  test("writes the proxy's app with its secret encrypted (pc1), never the plaintext or the passphrase", async () => {
    const run = await adminA.cli("export", "--include-secrets", "--passphrase-file", passFile);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const exported = parseYaml(run.stdout);
    const app = exported.proxies.find((p: { hostname: string }) => p.hostname === "app.example.test");
    expect(app).toMatchObject({ github_client_id: "Ov23liExport0001", github_client_secret_encrypted: expect.stringMatching(/^pc1:[\w-]+:[\w-]+:[\w-]+$/) });
    expect(exported.proxies.find((p: { hostname: string }) => p.hostname === "plain.example.test")).not.toHaveProperty("github_client_secret_encrypted");
    expect(run.stdout).not.toContain(SECRET);
    expect(run.stdout).not.toContain(PASSPHRASE);
    secretFile = join(DIR, "with-secrets.yaml");
    await Bun.write(secretFile, run.stdout);
    // The same from the environment variable.
    const fromEnv = await withEnvA.cli("export", "--include-secrets");
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain(PASSPHRASE);
    expect(fromEnv.stdout).toContain("github_client_secret_encrypted: pc1:");
  });

  test("without --include-secrets nothing secret is written, and a note says so", async () => {
    const run = await adminA.cli("export");
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/github_client|pc1:/);
    expect(run.stdout).not.toContain(SECRET);
    expect(run.stderr).toContain("proxy app.example.test: its GitHub OAuth app is not exported");
    const mistaken = await adminA.cli("export", "--passphrase-file", passFile);
    expect({ code: mistaken.code, stdout: mistaken.stdout }).toEqual({ code: 2, stdout: "" });
    expect(mistaken.stderr).toContain("--passphrase-file is for --include-secrets");
  });

  test("without a passphrase source (stdin not a terminal) it refuses, exit 2, writing nothing", async () => {
    const run = await adminA.cli("export", "--include-secrets");
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("--passphrase-file FILE or set PORTCULLIS_EXPORT_PASSPHRASE");
    // A passphrase is not a flag value.
    expect((await adminA.cli("export", "--include-secrets", "--passphrase", PASSPHRASE)).code).not.toBe(0);
  });
});

describe("apply of a file with encrypted secrets", () => {
  test("a wrong passphrase: a clear error, exit 2, nothing applied (not even the proxies)", async () => {
    const wrong = join(DIR, "wrong");
    await Bun.write(wrong, "not the passphrase at all\n");
    const run = await adminB.cli("apply", "-f", secretFile, "--passphrase-file", wrong);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("proxy app.example.test: github_client_secret_encrypted does not decrypt: wrong passphrase");
    expect(run.stderr).toContain("nothing was applied");
    expect(run.stderr + run.stdout).not.toContain("not the passphrase at all");
    expect((await b.api("GET", "/api/v1/proxy/targets/")).json).toEqual([]);
    // No passphrase at all: refused the same way.
    const none = await adminB.cli("apply", "-f", secretFile);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("a passphrase is needed");
    expect((await b.api("GET", "/api/v1/proxy/targets/")).json).toEqual([]);
  });

  test("the dry run says it would set the secret, without its value, and changes nothing", async () => {
    const dry = await withEnvB.cli("apply", "-f", secretFile, "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("+ create proxy app.example.test");
    expect(dry.stdout).toContain("~ set proxy app.example.test github_client_secret (github_client_id Ov23liExport0001)");
    expect(dry.stdout).toContain("3 to change");
    expect(dry.stdout + dry.stderr).not.toContain(SECRET);
    expect((await b.api("GET", "/api/v1/proxy/targets/")).json).toEqual([]);
  });

  test("applied to an empty gateway: B's proxy has the same app and secret; a second apply changes nothing", async () => {
    const run = await adminB.cli("apply", "-f", secretFile, "--passphrase-file", passFile);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("3 changed, 0 failed") });
    expect(run.stdout).toContain("~ set proxy app.example.test github_client_secret");
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    expect(run.stdout + run.stderr).not.toContain(PASSPHRASE);
    expect(await secretOf(b, "app.example.test")).toEqual({ hostname: "app.example.test", github_client_id: "Ov23liExport0001", github_client_secret: SECRET });
    expect(await secretOf(b, "plain.example.test")).toMatchObject({ github_client_secret: null });
    // B sealed it with its own secrets key, and its logins to the proxy go through the app with that secret.
    expect((await loginThroughProxy(b, "app.example.test")).status).toBe(200);
    expect(github.exchanges.at(-1)).toEqual({ clientId: "Ov23liExport0001", code: expect.any(String), succeeded: true });

    const again = await withEnvB.cli("apply", "-f", secretFile);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain("0 changed, 0 failed");
  });

  test("a secret changed on the gateway is set back; a changed client id too", async () => {
    await b.api("POST", "/api/v1/proxy/targets/app.example.test/github-oauth", { github_client_id: "Ov23liExport0001", github_client_secret: "another-secret-value" });
    const dry = await withEnvB.ok("apply", "-f", secretFile, "--dry-run");
    expect(dry).toContain("~ set proxy app.example.test github_client_secret");
    expect(dry).not.toContain("another-secret-value");
    expect(dry).toContain("1 to change");
    expect((await withEnvB.cli("apply", "-f", secretFile)).code).toBe(0);
    expect((await secretOf(b, "app.example.test")).github_client_secret).toBe(SECRET);
    await b.api("POST", "/api/v1/proxy/targets/app.example.test/github-oauth", { github_client_id: "Ov23liOther", github_client_secret: SECRET });
    expect((await withEnvB.cli("apply", "-f", secretFile)).code).toBe(0);
    expect((await secretOf(b, "app.example.test")).github_client_id).toBe("Ov23liExport0001");
  });

  test("the file's schema: the encrypted field only on proxies, in the pc1 form, with its client id", async () => {
    const sealed = parseYaml(await Bun.file(secretFile).text()).proxies.find((p: any) => p.hostname === "app.example.test").github_client_secret_encrypted;
    const cases: [unknown, RegExp][] = [
      [{ version: 1, proxies: [{ hostname: "x.example.test", target_url: "http://127.0.0.1:1", github_client_secret_encrypted: sealed }] }, /go together/],
      [{ version: 1, proxies: [{ hostname: "x.example.test", target_url: "http://127.0.0.1:1", github_client_id: "Ov23li", github_client_secret_encrypted: "plaintext" }] }, /github_client_secret_encrypted/],
      [{ version: 1, proxies: [{ hostname: "x.example.test", target_url: "http://127.0.0.1:1", github_client_secret: SECRET }] }, /\/proxies\/0/],
      [{ version: 1, external_services: [{ service_name: "s", target_url: "http://127.0.0.1:1", github_client_id: "Ov23li", github_client_secret_encrypted: sealed }] }, /\/external_services\/0/],
    ];
    for (const [document, message] of cases) {
      const file = join(DIR, "bad.json");
      await Bun.write(file, JSON.stringify(document));
      const run = await withEnvB.cli("apply", "-f", file);
      expect({ document, code: run.code }).toEqual({ document, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toContain(SECRET);
    }
  });
});

describe("two tokens", () => {
  test("a user exports only its own proxies' secrets, and cannot set one on the admin's proxy", async () => {
    const created = await b.api("POST", "/api/v1/tokens/", { name: "dana" });
    const dana = cliSession(urlB, created.json.token, HOME, { [PASSPHRASE_ENV]: PASSPHRASE });
    const exported = await dana.ok("export", "--include-secrets");
    expect(exported).not.toContain("app.example.test");
    expect(exported).not.toContain("pc1:");
    const hostile = parseYaml(await Bun.file(secretFile).text());
    hostile.proxies = hostile.proxies.filter((p: any) => p.hostname === "app.example.test");
    hostile.proxies[0].github_client_id = "Ov23liDana";
    const file = join(DIR, "dana.yaml");
    await Bun.write(file, JSON.stringify(hostile));
    const run = await dana.cli("apply", "-f", file);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/set proxy app\.example\.test github_client_secret .*FAILED: .*404/);
    expect((await secretOf(b, "app.example.test")).github_client_id).toBe("Ov23liExport0001");
  });
});
