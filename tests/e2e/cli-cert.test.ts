/**
 * `portcullis cert …` black-box with real ACME: the compiled binary as a
 * client of a gateway child process that gets its certificates from pebble
 * (HTTP-01 on the gateway's HTTP port), and the just recipes that wrap it.
 * The staging directory is the same pebble under another name (localhost), so
 * a certificate's acme_directory_url tells which one was asked.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { ensureBinary, ROOT, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { REFUSED_DOMAIN, startPebble, type Pebble } from "../helpers/pebble";
import { preChosenPort } from "../helpers/ports";
import { tempDir } from "../helpers/temp";

const ADMIN_TOKEN = `acm_${"ce".repeat(32)}`;
const home = tempDir("home");
let pebble: Pebble;
let gateway: RunningGateway;
let production: string;
let staging: string;

beforeAll(async () => {
  await ensureBinary();
  // pebble's config names the gateway's HTTP port before the gateway starts.
  const httpPort = preChosenPort();
  pebble = await startPebble({ httpPort });
  production = pebble.directoryUrl;
  staging = production.replace("127.0.0.1", "localhost");
  gateway = await startGatewayProcess({
    dataDir: tempDataDir(),
    env: {
      ADMIN_TOKEN,
      HTTP_PORT: String(httpPort),
      NODE_EXTRA_CA_CERTS: pebble.caFile,
      ACME_DIRECTORY_URL: production,
      ACME_STAGING_URL: staging,
      ACME_POLL_INTERVAL_SECONDS: "0.1",
      AUTO_CERTIFICATES: "true",
      // The test names resolve only in pebble's DNS.
      ACME_CHALLENGE_SELF_CHECK: "false",
      // pebble issues for these .test names; without this they would go to the local CA.
      ACME_INTERNAL_NAMES: "true",
    },
  });
  await gateway.waitForHealthy();
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  await pebble?.stop();
});

const cliEnv = () => ({ API_URL: gateway.apiUrl, HOME: home, ADMIN_TOKEN, PORTCULLIS_DATA_DIR: "/nonexistent" });
const cli = (...args: string[]) => runCli(args, cliEnv());
async function ok(...args: string[]): Promise<string> {
  const result = await cli(...args);
  expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: "" });
  return result.stdout;
}
const json = async (...args: string[]) => JSON.parse(await ok("--format", "json", ...args));
const hostOf = (url: string) => new URL(url).host;

/** Polls `cert status` until the issuance is over. */
async function finished(name: string): Promise<{ status: string; error: unknown; message: string }> {
  for (let i = 0; i < 300; i++) {
    const status = await json("cert", "status", name);
    if (status.status === "ready" || status.status === "failed") return status;
    await Bun.sleep(100);
  }
  throw new Error(`${name}: issuance never finished\n${gateway.output()}`);
}

describe("ACME issuance through the CLI", () => {
  test("create --wait: progress on stderr, then ready; the certificate chains to pebble", async () => {
    const run = await cli("cert", "create", "app", "app.example.test", "www.example.test", "--wait", "--interval", "0.2", "--key-type", "ecdsa");
    expect({ code: run.code, out: run.stdout }).toMatchObject({ code: 0 });
    expect(run.stdout).toMatch(/│ status\s+│ ready\s+│/);
    const progress = run.stderr.trimEnd().split("\n");
    expect(progress[0]).toBe(`issuance queued with ${production}; poll the status URL`);
    expect(progress.slice(1).every((line) => /^\[\d+s\] (pending|issuing|ready)\b/.test(line))).toBe(true);
    expect(progress.at(-1)).toMatch(/^\[\d+s\] ready: issued; valid until \d{4}-/);

    const shown = await json("cert", "show", "app");
    expect(shown).toMatchObject({ cert_name: "app", domains: ["app.example.test", "www.example.test"], acme_directory_url: production });
    expect(shown).not.toHaveProperty("private_key_pem");
    const leaf = new X509Certificate(shown.fullchain_pem);
    expect(leaf.subjectAltName).toBe("DNS:app.example.test, DNS:www.example.test");
    expect(leaf.publicKey.asymmetricKeyType).toBe("ec");

    const list = await ok("cert", "list");
    expect(list).toMatch(new RegExp(`│ app\\s+│ app\\.example\\.test, www\\.example\\.test\\s+│ active\\s+│ \\S+\\s+│ ${hostOf(production).replace(/\./g, "\\.")}\\s+│`));
  }, 60_000);

  test("a name the CA refuses: exit 1 with its problem, and `cert status` keeps it", async () => {
    const run = await cli("cert", "create", "refused", REFUSED_DOMAIN, "--wait", "--interval", "0.2");
    expect(run.code).toBe(1);
    const problem = `rejectedIdentifier: Order included an identifier for which issuance is forbidden by policy: "${REFUSED_DOMAIN}"`;
    expect(run.stderr.trimEnd().split("\n").at(-1)).toBe(`portcullis: certificate "refused" failed: issuance failed at order creation; ${problem}`);
    expect(run.stdout).toMatch(/│ status\s+│ failed\s+│/);

    const status = await json("cert", "status", "refused");
    expect(status.error).toMatchObject({ type: "urn:ietf:params:acme:error:rejectedIdentifier", status: 400 });
    expect(await ok("cert", "status", "refused")).toContain(problem);
    // Nothing was stored under that name.
    expect((await cli("cert", "show", "refused")).stderr).toContain("404 not_found");
  }, 60_000);

  test("without --wait: the 202 and how to follow it; renew --wait", async () => {
    const accepted = await ok("cert", "create", "later", "later.example.test");
    expect(accepted).toMatch(/│ status\s+│ pending\s+│/);
    expect(accepted).toMatch(/│ status_url\s+│ \/api\/v1\/certificates\/later\/status\s+│/);
    expect(accepted.trimEnd().split("\n").at(-1)).toBe("Issuing in the background. Follow it: portcullis cert status later");
    expect((await finished("later")).status).toBe("ready");

    const before = (await json("cert", "show", "later")).fullchain_pem;
    const renewed = await cli("--format", "json", "cert", "renew", "later", "--wait", "--interval", "0.2");
    expect(renewed.code).toBe(0);
    expect(JSON.parse(renewed.stdout)).toMatchObject({ cert_name: "later", status: "ready", operation: "renew" });
    expect(renewed.stderr.split("\n")[0]).toBe("renewal queued");
    expect((await json("cert", "show", "later")).fullchain_pem).not.toBe(before);
  }, 60_000);

  test("proxy create --staging --email: the proxy's certificate comes from the staging directory, with that contact", async () => {
    const proxy = await json("proxy", "create", "staged.example.test", "http://127.0.0.1:1", "--staging", "--email", "ops@example.test");
    expect(proxy.cert_name).toBe("proxy-staged-example-test");
    expect((await finished("proxy-staged-example-test")).status).toBe("ready");
    expect(await json("cert", "show", "proxy-staged-example-test")).toMatchObject({
      domains: ["staged.example.test"],
      email: "ops@example.test",
      acme_directory_url: staging,
    });
    expect(await ok("cert", "list")).toMatch(new RegExp(`│ proxy-staged-example-test\\s+│ staged\\.example\\.test\\s+│ active\\s+│ \\S+\\s+│ ${hostOf(staging)}\\s+│`));

    // --delete-cert takes the proxy's certificate with it.
    expect(await json("proxy", "delete", "staged.example.test", "--delete-cert")).toEqual({
      deleted: "staged.example.test",
      certificate_deleted: "proxy-staged-example-test",
    });
    expect((await cli("cert", "show", "proxy-staged-example-test")).stderr).toContain("404 not_found");
  }, 60_000);
});

const justBinary = Bun.which("just");

describe.skipIf(!justBinary)("just recipes", () => {
  const just = async (...args: string[]) => {
    const child = Bun.spawn([justBinary!, "--justfile", join(ROOT, "justfile"), ...args], {
      // No ADMIN_TOKEN here: the recipes must pass their token argument.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, API_URL: gateway.apiUrl, PORTCULLIS_DATA_DIR: "/nonexistent" },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    return { code, stdout, stderr };
  };

  test("cert-create (staging, email), cert-status, cert-list, cert-show (pem), cert-renew, cert-delete (force)", async () => {
    const created = await just("cert-create", "recipe", "recipe.example.test", "true", "ops@example.test", ADMIN_TOKEN);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(created.stdout).toMatch(/│ status\s+│ pending\s+│/);
    expect((await finished("recipe")).status).toBe("ready");
    expect(await json("cert", "show", "recipe")).toMatchObject({ email: "ops@example.test", acme_directory_url: staging });

    expect((await just("cert-status", "recipe", ADMIN_TOKEN)).stdout).toMatch(/│ status\s+│ ready\s+│/);
    expect((await just("cert-list", ADMIN_TOKEN)).stdout).toMatch(/│ recipe\s+│ recipe\.example\.test\s+│ active\s+│/);
    const plain = await just("cert-show", "recipe", "", ADMIN_TOKEN);
    expect(plain.stdout).toContain("-----BEGIN CERTIFICATE-----");
    expect(plain.stdout).not.toContain("PRIVATE KEY");
    expect((await just("cert-show", "recipe", "true", ADMIN_TOKEN)).stdout).toContain("PRIVATE KEY-----");

    const renewed = await just("cert-renew", "recipe", ADMIN_TOKEN);
    expect(renewed.code).toBe(0);
    expect(renewed.stdout).toMatch(/│ message\s+│ renewal queued\s+│/);
    expect((await finished("recipe")).status).toBe("ready");

    // A proxy for a name the certificate covers uses it: delete is refused, then forced.
    await ok("proxy", "create", "recipe.example.test", "http://127.0.0.1:1");
    const refused = await just("cert-delete", "recipe", "", ADMIN_TOKEN);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("409 conflict: certificate recipe is used by recipe.example.test");
    const forced = await just("cert-delete", "recipe", "true", ADMIN_TOKEN);
    expect(forced).toMatchObject({ code: 0, stderr: "" });
    expect(forced.stdout).toMatch(/│ deleted\s+│ recipe\s+│/);

    const noToken = await just("cert-list");
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("401 unauthorized");
  }, 60_000);

  test("proxy-create passes staging and email; proxy-delete passes delete-cert and force", async () => {
    const created = await just("proxy-create", "viajust.example.test", "http://127.0.0.1:1", "true", "", "", "", "ops@example.test", ADMIN_TOKEN);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect((await finished("proxy-viajust-example-test")).status).toBe("ready");
    expect(await json("cert", "show", "proxy-viajust-example-test")).toMatchObject({ email: "ops@example.test", acme_directory_url: staging });

    const deleted = await just("proxy-delete", "viajust.example.test", "true", "true", ADMIN_TOKEN);
    expect(deleted).toMatchObject({ code: 0, stderr: "" });
    expect(deleted.stdout).toMatch(/│ certificate_deleted\s+│ proxy-viajust-example-test\s+│/);
  }, 60_000);
});
