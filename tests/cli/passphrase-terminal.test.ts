/**
 * The passphrase asked on a terminal: the real CLI (src/main.ts) in a
 * pseudo-terminal made by util-linux `script`, against a real in-process
 * gateway. The prompt goes to the terminal without echoing what is typed,
 * export asks twice, and the file (stdout redirected) holds only the
 * encrypted secret.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { openSecret } from "../../src/cli/declarative/secret-envelope";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const SCRIPT = Bun.which("script");
const SECRET = "77aa88bb99cc00dd11ee22ff33aa44bb55cc66dd";
const TYPED = "typed at the terminal 9021";
const DIR = tempDir("passphrase-terminal");
let redis: TestRedis;
let gw: TestGateway;

/** Runs `portcullis <args> > out` with a terminal as stdin, typing each answer once its prompt has appeared. */
async function onTerminal(args: string, answers: string[]): Promise<{ code: number; terminal: string; out: string }> {
  const out = join(DIR, `out-${Date.now()}`);
  const entry = join(import.meta.dir, "../../src/main.ts");
  const command = `${process.execPath} ${entry} ${args} > ${out}`;
  const child = Bun.spawn([SCRIPT!, "-qec", command, "/dev/null"], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    // An empty PORTCULLIS_EXPORT_PASSPHRASE counts as unset: the terminal is asked.
    env: { ...process.env, API_URL: `http://127.0.0.1:${gw.gateway.apiPort}`, TOKEN: GATEWAY_ADMIN, HOME: DIR, PORTCULLIS_EXPORT_PASSPHRASE: "" },
  });
  let terminal = "";
  const decoder = new TextDecoder();
  let prompts = 0;
  for await (const chunk of child.stdout) {
    terminal += decoder.decode(chunk);
    const seen = terminal.split("Passphrase").length - 1;
    while (prompts < seen && prompts < answers.length) {
      child.stdin.write(`${answers[prompts++]}\r`);
      child.stdin.flush();
    }
  }
  const code = await child.exited;
  return { code, terminal, out: await Bun.file(out).text().catch(() => "") };
}

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
  expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname: "tty.example.test", target_url: "http://127.0.0.1:7000" })).status).toBe(201);
  expect((await gw.api("POST", "/api/v1/proxy/targets/tty.example.test/github-oauth", { github_client_id: "Ov23liTty", github_client_secret: SECRET })).status).toBe(200);
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
});

describe.skipIf(!SCRIPT)("passphrase on a terminal", () => {
  test("export asks twice without echo; the file holds the secret encrypted with what was typed", async () => {
    const run = await onTerminal("export --include-secrets", [TYPED, TYPED]);
    expect(run.code).toBe(0);
    expect(run.terminal).toContain("Passphrase: ");
    expect(run.terminal).toContain("Passphrase again: ");
    expect(run.terminal).not.toContain(TYPED);
    expect(run.out).not.toContain(SECRET);
    const entry = parseYaml(run.out).proxies[0];
    expect(openSecret(entry.github_client_secret_encrypted, TYPED)).toBe(SECRET);
  }, 30_000);

  test("apply asks once; the right passphrase sets the secret back, a wrong one applies nothing (exit 2)", async () => {
    const exported = await onTerminal("export --include-secrets", [TYPED, TYPED]);
    const file = join(DIR, "exported.yaml");
    await Bun.write(file, exported.out);
    await gw.api("POST", "/api/v1/proxy/targets/tty.example.test/github-oauth", { github_client_id: "Ov23liTty", github_client_secret: "changed-on-the-gateway" });
    const secretNow = async () => (await gw.api("GET", "/api/v1/proxy/targets/tty.example.test/github-oauth/secret")).json.github_client_secret;

    const wrong = await onTerminal(`apply -f ${file}`, ["not what was typed before"]);
    expect(wrong.code).toBe(2);
    expect(wrong.terminal).toContain("does not decrypt: wrong passphrase");
    expect(await secretNow()).toBe("changed-on-the-gateway");

    const right = await onTerminal(`apply -f ${file}`, [TYPED]);
    expect(right.code).toBe(0);
    expect(right.terminal.split("Passphrase").length - 1).toBe(1);
    expect(right.terminal + right.out).not.toContain(TYPED);
    expect(right.out).toContain("~ set proxy tty.example.test github_client_secret");
    expect(await secretNow()).toBe(SECRET);
  }, 30_000);

  test("two different answers: refused, nothing written", async () => {
    const run = await onTerminal("export --include-secrets", [TYPED, `${TYPED}x`]);
    expect(run.code).toBe(2);
    expect(run.terminal).toContain("the passphrases differ");
    expect(run.out).toBe("");
  }, 30_000);
});
