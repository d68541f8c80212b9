/**
 * OAuth clients in `portcullis export` / `apply -f`, through the real CLI
 * against two real in-process gateways on their own Redis: clients
 * registered on A are exported (their secret hashes sealed with
 * --include-secrets), applied to an empty B, and then authenticate at B's
 * token endpoint with the secrets A handed out; without the secrets a
 * confidential client is refused clearly; a second apply changes nothing; a
 * non-admin token neither exports nor applies clients.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { hashClientSecret } from "../../src/auth/clients/client-secrets";
import { sealSecret } from "../../src/cli/declarative/secret-envelope";
import { PASSPHRASE_ENV } from "../../src/cli/passphrase";
import { cliSession } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { tokenRequest } from "../helpers/oauth-client";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const HOME = tempDir("home");
const DIR = tempDir("config-clients");
const PASSPHRASE = "harbour kettle 9021 quartz";
const REDIRECT = "https://app.example.com/cb";
let redisA: TestRedis;
let redisB: TestRedis;
let a: TestGateway;
let b: TestGateway;
const urlA = () => `http://127.0.0.1:${a.gateway.apiPort}`;
const urlB = () => `http://127.0.0.1:${b.gateway.apiPort}`;
const adminA = cliSession(urlA, GATEWAY_ADMIN, HOME, { [PASSPHRASE_ENV]: PASSPHRASE });
const adminB = cliSession(urlB, GATEWAY_ADMIN, HOME, { [PASSPHRASE_ENV]: PASSPHRASE });
const bareB = cliSession(urlB, GATEWAY_ADMIN, HOME);
const clients: Record<string, { client_id: string; client_secret?: string }> = {};
let plainFile: string;
let secretFile: string;

const write = async (name: string, text: string) => {
  const path = join(DIR, name);
  await Bun.write(path, text);
  return path;
};
const clientIdsOn = async (gw: TestGateway) => ((await gw.api("GET", "/api/v1/oauth/clients")).json as { client_id: string }[]).map((c) => c.client_id).sort();

/** A code exchange with a made-up code: invalid_grant means the client authenticated, invalid_client that it did not. */
async function authenticates(gw: TestGateway, clientId: string, secret: string, method: "basic" | "post"): Promise<boolean> {
  const form = { grant_type: "authorization_code", code: "made-up-code", redirect_uri: REDIRECT, code_verifier: "v".repeat(43) };
  const answer =
    method === "basic" ? await tokenRequest(gw, form, { basic: [clientId, secret] }) : await tokenRequest(gw, { ...form, client_id: clientId, client_secret: secret });
  if (answer.status === 400 && answer.body.error === "invalid_grant") return true;
  expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 401, error: "invalid_client" });
  return false;
}

beforeAll(async () => {
  [redisA, redisB] = await Promise.all([startTestRedis(), startTestRedis()]);
  [a, b] = await Promise.all([startTestGateway(redisA, { BASE_DOMAIN: "example.test" }), startTestGateway(redisB, { BASE_DOMAIN: "example.test" })]);
  const register = async (label: string, body: Record<string, unknown>) => {
    const res = await a.api("POST", "/api/v1/oauth/clients", body);
    expect(res.status).toBe(201);
    clients[label] = res.json;
  };
  await register("web", { client_name: "Web app", redirect_uris: [REDIRECT], scope: "mcp:read", contacts: ["ops@example.com"] });
  await register("post", { client_name: "Form poster", redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_post" });
  await register("native", { client_name: "CLI", redirect_uris: ["http://127.0.0.1/callback"], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] });
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redisA?.stop(), redisB?.stop()]);
});

describe("export", () => {
  test("lists every client with its metadata (defaults left out), no secret; a note per confidential client", async () => {
    const run = await adminA.cli("export");
    expect(run.code).toBe(0);
    const exported = parseYaml(run.stdout);
    const byId = Object.fromEntries(exported.oauth_clients.map((c: { client_id: string }) => [c.client_id, c]));
    expect(byId[clients.web!.client_id]).toEqual({ client_id: clients.web!.client_id, client_name: "Web app", redirect_uris: [REDIRECT], scope: "mcp:read", contacts: ["ops@example.com"] });
    expect(byId[clients.post!.client_id]).toMatchObject({ token_endpoint_auth_method: "client_secret_post", redirect_uris: [REDIRECT], scope: expect.any(String) });
    expect(byId[clients.native!.client_id]).toMatchObject({ token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] });
    expect(run.stdout).not.toMatch(/hash|pc1:/);
    for (const label of ["web", "post"]) expect(run.stdout).not.toContain(clients[label]!.client_secret!);
    expect(run.stderr).toContain(`OAuth client ${clients.web!.client_id}: its secret is not exported`);
    expect(run.stderr).toContain(`OAuth client ${clients.post!.client_id}: its secret is not exported`);
    expect(run.stderr).not.toContain(clients.native!.client_id);
    plainFile = await write("plain.yaml", run.stdout);
  });

  test("--include-secrets seals each client's stored hashes (pc1, one envelope per client), never a secret or a hash in clear", async () => {
    const run = await adminA.cli("export", "--include-secrets");
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const exported = parseYaml(run.stdout);
    expect(exported.oauth_clients).toHaveLength(3);
    for (const entry of exported.oauth_clients) expect(entry.secret_hashes_encrypted).toMatch(/^pc1:/);
    for (const label of ["web", "post"]) {
      expect(run.stdout).not.toContain(clients[label]!.client_secret!);
      expect(run.stdout).not.toContain(hashClientSecret(clients[label]!.client_secret!));
    }
    expect(run.stdout).not.toContain(PASSPHRASE);
    secretFile = await write("with-secrets.yaml", run.stdout);
  });
});

describe("apply", () => {
  test("without the secrets: the public client is created, each confidential one is refused by name, exit 1", async () => {
    const dry = await bareB.cli("apply", "-f", plainFile, "--dry-run");
    expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: "" });
    expect(dry.stdout).toContain(`+ create OAuth client ${clients.native!.client_id}`);
    expect(dry.stdout).toContain(`! OAuth client ${clients.web!.client_id}: a confidential client this gateway does not have, and the file carries no secret for it: export it with --include-secrets`);
    expect(dry.stdout).toContain("1 to change, 0 unchanged, 2 that apply cannot change");
    expect(await clientIdsOn(b)).toEqual([]);
    const run = await bareB.cli("apply", "-f", plainFile);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`! OAuth client ${clients.post!.client_id}: a confidential client`);
    expect(await clientIdsOn(b)).toEqual([clients.native!.client_id]);
  });

  test("a wrong passphrase: exit 2, nothing applied", async () => {
    const wrong = await write("wrong", "not it at all\n");
    const run = await bareB.cli("apply", "-f", secretFile, "--passphrase-file", wrong);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/OAuth client \S+: secret_hashes_encrypted does not decrypt: wrong passphrase/);
    expect(await clientIdsOn(b)).toEqual([clients.native!.client_id]);
  });

  test("with the secrets: B's clients accept the secrets A handed out (Basic and post), and refuse others", async () => {
    const dry = await adminB.ok("apply", "-f", secretFile, "--dry-run");
    expect(dry).toContain(`+ create OAuth client ${clients.web!.client_id}`);
    // The public client exists; only its registration token hash differs.
    expect(dry).toContain(`~ update OAuth client ${clients.native!.client_id} (registration_access_token_hash: (hidden) → (hidden))`);
    expect(dry).not.toMatch(/[0-9a-f]{64}/);
    const run = await adminB.cli("apply", "-f", secretFile);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("3 changed, 0 failed") });
    expect(run.stdout + run.stderr).not.toMatch(/[0-9a-f]{64}/);
    expect(await clientIdsOn(b)).toEqual(await clientIdsOn(a));
    expect(await authenticates(b, clients.web!.client_id, clients.web!.client_secret!, "basic")).toBe(true);
    expect(await authenticates(b, clients.post!.client_id, clients.post!.client_secret!, "post")).toBe(true);
    expect(await authenticates(b, clients.web!.client_id, clients.post!.client_secret!, "basic")).toBe(false);
    expect(await authenticates(b, clients.post!.client_id, "guessed", "post")).toBe(false);
    // The client's own RFC 7592 registration access token came along too.
    const hashesOf = async (gw: TestGateway) => (await gw.api("GET", `/api/v1/oauth/clients/${clients.web!.client_id}/secret-hashes`)).json;
    expect(await hashesOf(b)).toEqual(await hashesOf(a));
  });

  test("the same file again changes nothing, and B exports what A exports", async () => {
    const dry = await adminB.ok("apply", "-f", secretFile, "--dry-run");
    expect(dry).toBe("0 to change, 3 unchanged\n");
    const again = await adminB.cli("apply", "-f", secretFile);
    expect({ code: again.code, stdout: again.stdout }).toEqual({ code: 0, stdout: "" });
    expect(again.stderr).toContain("0 changed, 0 failed, 3 unchanged");
    expect((await bareB.cli("apply", "-f", plainFile, "--dry-run")).stdout).toBe("0 to change, 3 unchanged\n");
    const fromA = parseYaml((await adminA.cli("export")).stdout).oauth_clients;
    expect(parseYaml((await adminB.cli("export")).stdout).oauth_clients).toEqual(fromA);
  });

  test("drift on B (a renamed client, a replaced secret) is set back, the secret shown only as hidden", async () => {
    const id = clients.web!.client_id;
    const other = hashClientSecret("someone-elses-secret");
    expect((await b.api("PUT", `/api/v1/oauth/clients/${id}`, { client_name: "Renamed", redirect_uris: [REDIRECT], scope: "mcp:read", client_secret_hash: other })).status).toBe(200);
    const dry = await adminB.ok("apply", "-f", secretFile, "--dry-run");
    expect(dry).toContain(`~ update OAuth client ${id} (client_name: "Renamed" → "Web app"; contacts: [] → ["ops@example.com"]; client_secret_hash: (hidden) → (hidden))`);
    expect(dry).not.toContain(other);
    expect((await adminB.cli("apply", "-f", secretFile)).code).toBe(0);
    expect((await b.api("GET", `/api/v1/oauth/clients/${id}`)).json).toMatchObject({ client_name: "Web app", contacts: ["ops@example.com"] });
    expect(await authenticates(b, id, clients.web!.client_secret!, "basic")).toBe(true);
    expect(await authenticates(b, id, "someone-elses-secret", "basic")).toBe(false);
  });

  test("a client B has that the file does not name is kept, and deleted with --prune", async () => {
    const extra = (await b.api("POST", "/api/v1/oauth/clients", { redirect_uris: [REDIRECT] })).json.client_id;
    expect(await adminB.ok("apply", "-f", secretFile, "--dry-run")).toContain(`keep OAuth client ${extra} (not in the file; --prune deletes it)`);
    const pruned = await adminB.cli("apply", "-f", secretFile, "--prune");
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain(`- delete OAuth client ${extra}`);
    expect(await clientIdsOn(b)).toEqual(await clientIdsOn(a));
  });

  test("the file's schema: client ids and sealed hashes are checked before anything is applied", async () => {
    const cases: [unknown, RegExp][] = [
      [{ version: 1, oauth_clients: [{ client_id: "https://evil.example.net/client.json", redirect_uris: [REDIRECT] }] }, /\/oauth_clients\/0\/client_id/],
      [{ version: 1, oauth_clients: [{ client_id: "c1", redirect_uris: [REDIRECT], secret_hashes_encrypted: hashClientSecret("x") }] }, /secret_hashes_encrypted/],
      [{ version: 1, oauth_clients: [{ client_id: "c1", redirect_uris: [REDIRECT], client_secret_hash: hashClientSecret("x") }] }, /\/oauth_clients\/0/],
      [{ version: 1, oauth_clients: [{ client_id: "c1" }, { client_id: "c1" }] }, /"c1" is listed twice/],
    ];
    for (const [document, message] of cases) {
      const run = await adminB.cli("apply", "-f", await write("bad.json", JSON.stringify(document)));
      expect({ document, code: run.code }).toEqual({ document, code: 2 });
      expect(run.stderr).toMatch(message);
    }
    // An envelope that opens but holds a plaintext secret (or anything but the two hashes) is refused before anything is applied.
    for (const inside of [JSON.stringify({ client_secret_hash: "plaintext-secret" }), JSON.stringify({ client_secret: hashClientSecret("x") }), "plaintext-secret"]) {
      const sealed = { version: 1, oauth_clients: [{ client_id: "c-sealed", redirect_uris: [REDIRECT], secret_hashes_encrypted: sealSecret(inside, PASSPHRASE) }] };
      const run = await adminB.cli("apply", "-f", await write("sealed.json", JSON.stringify(sealed)));
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/OAuth client c-sealed: secret_hashes_encrypted (holds something other than|does not hold secret hashes).*nothing was applied/);
      expect(run.stderr).not.toContain("plaintext-secret");
    }
    expect(await clientIdsOn(b)).not.toContain("c-sealed");
    // Bad metadata passes the file's schema but not the gateway's checks: that entry fails, named.
    const open = await adminB.cli("apply", "-f", await write("open.json", JSON.stringify({ version: 1, oauth_clients: [{ client_id: "c-open", token_endpoint_auth_method: "none", redirect_uris: ["http://evil.example.net/cb"] }] })));
    expect(open.code).toBe(1);
    expect(open.stdout).toMatch(/\+ create OAuth client c-open: FAILED: .*must use https/);
    expect(await clientIdsOn(b)).not.toContain("c-open");
    const schema = JSON.parse(await adminB.ok("schema"));
    expect(Object.keys(schema.properties.oauth_clients.items.properties)).toEqual(expect.arrayContaining(["client_id", "redirect_uris", "scope", "token_endpoint_auth_method", "secret_hashes_encrypted"]));
  });
});

describe("two tokens", () => {
  test("a non-admin token exports no clients and cannot apply them: exit 2, nothing changed", async () => {
    const created = await b.api("POST", "/api/v1/tokens/", { name: "erin" });
    const erin = cliSession(urlB, created.json.token, HOME, { [PASSPHRASE_ENV]: PASSPHRASE });
    const exported = parseYaml(await erin.ok("export", "--include-secrets"));
    expect(exported).not.toHaveProperty("oauth_clients");
    const before = await clientIdsOn(b);
    const hostile = await write("erin.json", JSON.stringify({ version: 1, oauth_clients: [{ client_id: clients.native!.client_id, token_endpoint_auth_method: "none", redirect_uris: ["https://erin.example.net/cb"] }, { client_id: "erin-own", token_endpoint_auth_method: "none", redirect_uris: ["https://erin.example.net/cb"] }] }));
    for (const flags of [[], ["--prune"]]) {
      const run = await erin.cli("apply", "-f", hostile, ...flags);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("oauth_clients: only the admin token manages OAuth clients; nothing was applied");
    }
    expect(await clientIdsOn(b)).toEqual(before);
    expect((await b.api("GET", `/api/v1/oauth/clients/${clients.native!.client_id}`)).json.redirect_uris).toEqual(["http://127.0.0.1/callback"]);
    // The endpoint itself refuses the token too (apply is only a client of it).
    expect((await b.apiAs(created.json.token, "PUT", "/api/v1/oauth/clients/erin-own", { token_endpoint_auth_method: "none", redirect_uris: ["https://erin.example.net/cb"] })).status).toBe(403);
  });
});
