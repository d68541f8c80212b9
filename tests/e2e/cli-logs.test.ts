/**
 * `portcullis logs …` black-box: the compiled binary as a client of a running
 * gateway process (embedded Redis, its own request-log writer): requests
 * through the edge are found by `logs search` / `logs events`, and `logs
 * follow` prints them live — plain when piped, the status coloured on a
 * terminal (a real pseudo-terminal from script(1)).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { BINARY, ensureBinary, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { namedBackend } from "../helpers/gateway-in-process";
import { tempDir } from "../helpers/temp";

const ADMIN_TOKEN = `acm_${"d7".repeat(32)}`;
const HOST = "cli-logs.test";
const home = tempDir("home");
const backend = namedBackend("cli-logs");
let gateway: RunningGateway;

beforeAll(async () => {
  await ensureBinary();
  gateway = await startGatewayProcess({ dataDir: tempDataDir(), env: { ADMIN_TOKEN } });
  await gateway.waitForHealthy();
  const created = await cli("proxy", "create", HOST, `http://127.0.0.1:${backend.port}`, "--no-enable-https");
  expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: "" });
}, 120_000);
afterAll(async () => {
  await gateway?.stop();
  backend.stop(true);
});

const cliEnv = () => ({ API_URL: gateway.apiUrl, HOME: home, ADMIN_TOKEN, PORTCULLIS_DATA_DIR: "/nonexistent" });
const cli = (...args: string[]) => runCli(args, cliEnv());
const request = async (path: string) => {
  const res = await fetch(`http://127.0.0.1:${gateway.httpPort}${path}`, { headers: { host: HOST } });
  await res.arrayBuffer();
  return res.headers.get("x-request-id")!;
};

/** Keeps making requests until `done` settles (a live tail opened at an unknown moment sees the later ones). */
async function whileRequesting<T>(done: Promise<T>): Promise<T> {
  let finished = false;
  const settled = done.finally(() => (finished = true));
  while (!finished) {
    await request("/live");
    await Promise.race([settled.catch(() => {}), Bun.sleep(50)]);
  }
  return settled;
}

test("search and events find requests made through the edge", async () => {
  const id = await request("/found");
  let records: { request_id: string; path: string; status: number }[] = [];
  for (let i = 0; i < 100 && !records.some((r) => r.request_id === id); i++) {
    const run = await cli("--format", "json", "logs", "host", HOST);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    records = JSON.parse(run.stdout);
    if (!records.some((r) => r.request_id === id)) await Bun.sleep(30);
  }
  expect(records.find((r) => r.request_id === id)).toMatchObject({ path: "/found", status: 200 });
  const table = await cli("logs", "search", `path=/found`, "--host", HOST);
  expect(table.stdout).toContain(id);
  const events = JSON.parse((await cli("--format", "json", "logs", "events", "--host", HOST)).stdout);
  expect(events.by_host[HOST]).toBeGreaterThanOrEqual(1);
  expect(events.duration_ms_by_proxy[HOST].count).toBeGreaterThanOrEqual(1);
});

test("follow, piped: one plain line per request, until --count", async () => {
  const run = await whileRequesting(cli("logs", "follow", "--host", HOST, "--count", "2"));
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  const lines = run.stdout.trimEnd().split("\n");
  expect(lines.length).toBe(2);
  for (const line of lines) expect(line).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} 127\\.0\\.0\\.1 GET ${HOST.replace(".", "\\.")}/live 200 \\d+ms \\S+$`));
  expect(run.stdout).not.toContain("\x1b[");
}, 20_000);

test.skipIf(!Bun.which("script"))("follow on a terminal: the status is coloured (2xx green)", async () => {
  const command = [BINARY, "logs", "follow", "--host", HOST, "--count", "1"].map((word) => `'${word}'`).join(" ");
  const child = Bun.spawn(["script", "-qec", command, "/dev/null"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TERM: "xterm", ...cliEnv() }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const [code, out] = await whileRequesting(Promise.all([child.exited, new Response(child.stdout).text()]));
  expect(code).toBe(0);
  expect(out).toMatch(/127\.0\.0\.1 GET cli-logs\.test\/live \x1b\[32m200\x1b\[0m \d+ms/);
}, 20_000);
