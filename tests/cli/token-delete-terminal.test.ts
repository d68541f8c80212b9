/**
 * `token delete` on a real terminal (a pseudo-terminal from util-linux
 * `script`): the question is asked on the terminal, and the answer typed
 * decides. Skipped where `script` is missing.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";

const script = Bun.which("script");
let redis: TestRedis;
let gw: TestGateway;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
});
afterAll(async () => {
  await gw.stop();
  await redis.stop();
});

/** Runs `portcullis token delete <name>` with a terminal as stdin, typing `answer` once the question is on screen. */
async function deleteOnTerminal(name: string, answer: string): Promise<{ code: number; screen: string }> {
  const command = `bun ${JSON.stringify(join(import.meta.dir, "../../src/main.ts"))} token delete ${name}`;
  const child = Bun.spawn([script!, "-qec", command, "/dev/null"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("tty-home"), API_URL: `http://127.0.0.1:${gw.gateway.apiPort}`, TOKEN: GATEWAY_ADMIN, PORTCULLIS_DATA_DIR: "/nonexistent", TERM: "dumb" },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  let screen = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) screen += decoder.decode(chunk, { stream: true });
  })();
  const deadline = Date.now() + 20_000;
  while (!screen.includes("[y/N]") && Date.now() < deadline && child.exitCode === null) await Bun.sleep(50);
  child.stdin.write(`${answer}\n`);
  await child.stdin.flush();
  const code = await child.exited;
  await reading;
  return { code, screen: screen.replaceAll("\r", "") };
}

test.skipIf(!script)("the question shows on the terminal; n keeps the token, y deletes it with what it owns", async () => {
  const erin = (await gw.api("POST", "/api/v1/tokens/", { name: "erin" })).json.token;
  await gw.apiAs(erin, "POST", "/api/v1/proxy/targets/", { hostname: "erin.test", target_url: "http://127.0.0.1:4005" });

  const no = await deleteOnTerminal("erin", "n");
  expect(no.screen).toContain("Token erin owns these resources; deleting it deletes them too:\n  proxy erin.test\n");
  expect(no.screen).toContain("Delete token erin and these 1 resource(s)? [y/N]");
  expect(no.screen).toContain("portcullis: token delete: nothing deleted");
  expect(no.code).toBe(1);
  expect((await gw.api("GET", "/api/v1/tokens/erin")).status).toBe(200);

  const yes = await deleteOnTerminal("erin", "y");
  expect(yes.screen).toContain("deleted token erin and what it owned: 1 proxy");
  expect(yes.code).toBe(0);
  expect((await gw.api("GET", "/api/v1/tokens/erin")).status).toBe(404);
  expect((await gw.api("GET", "/api/v1/proxy/targets/erin.test")).status).toBe(404);
}, 60_000);
