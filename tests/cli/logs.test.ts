/**
 * `portcullis logs …` and the `just logs*` recipes: the pure parts (query
 * strings, the follow line and its colours, the SSE reader), every command
 * against a real in-process gateway and Redis, the live tail through the
 * CLI, and the recipes' command lines.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { logQuery } from "../../src/cli/commands/logs";
import { colourStatus, requestLine } from "../../src/cli/request-line";
import { readSse } from "../../src/cli/sse";
import { cliSession, runProgram } from "../helpers/cli-program";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { justBinary, justDryRun } from "../helpers/just-dry-run";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { requestRecord, seedFlush } from "../helpers/request-log-seed";
import { tempDir } from "../helpers/temp";

describe("pure parts", () => {
  test("flags and key=value words become the API's query string", () => {
    expect(logQuery({})).toBe("");
    expect(logQuery({ status: "5xx", client: "c-1", hours: "2", errors: true })).toBe("?client_id=c-1&status=5xx&hours=2&errors=true");
    expect(logQuery({ hours: "24" }, ["status=5xx method=POST", "path=/api/*", "client=abc", "slow=true"])).toBe(
      "?hours=24&status=5xx&method=POST&path=%2Fapi%2F*&client_id=abc&slow=true",
    );
    expect(logQuery({}, [""])).toBe("");
    expect(() => logQuery({}, ["bogus=1"])).toThrow(/"bogus=1": expected key=value/);
    expect(() => logQuery({}, ["status"])).toThrow(/expected key=value/);
  });

  test("the follow line: time, ip, method, host+path, status, duration, request id; colour by class only when asked", () => {
    const record = requestRecord({ ts: Date.UTC(2026, 11, 7, 4, 5, 6, 789), ip: "10.0.0.1", method: "POST", host: "app.test", path: "/api/x", status: 502, duration_ms: 12.4, request_id: "rid-1" });
    expect(requestLine(record, false)).toBe("2026-12-07 04:05:06.789 10.0.0.1 POST app.test/api/x 502 12ms rid-1");
    expect(requestLine(record, true)).toBe("2026-12-07 04:05:06.789 10.0.0.1 POST app.test/api/x \x1b[31m502\x1b[0m 12ms rid-1");
    expect([200, 301, 404, 503, 101].map(colourStatus)).toEqual(["\x1b[32m200\x1b[0m", "\x1b[36m301\x1b[0m", "\x1b[33m404\x1b[0m", "\x1b[31m503\x1b[0m", "101"]);
  });

  test("the SSE reader: events split anywhere across chunks, CRLF, comments, multi-line data", async () => {
    const text = ": following\n\nevent: request\nid: 1\ndata: {\"a\":1}\n\n: keep-alive\r\n\r\nevent: request\r\ndata: line1\r\ndata: line2\r\n\r\ndata: plain\n\n";
    for (const size of [1, 3, 7, text.length]) {
      const chunks: Uint8Array[] = [];
      const bytes = new TextEncoder().encode(text);
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.slice(i, i + size));
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
          controller.close();
        },
      });
      const events = [];
      for await (const event of readSse(body)) events.push(event);
      expect({ size, events }).toEqual({
        size,
        events: [
          { event: "request", data: '{"a":1}', id: "1" },
          { event: "request", data: "line1\nline2", id: "1" },
          { event: "message", data: "plain", id: "1" },
        ],
      });
    }
  });
});

describe("against a real gateway", () => {
  let redis: TestRedis;
  let gw: TestGateway;
  let alice: string;
  const home = tempDir("cli-logs-home");
  const apiUrl = () => `http://127.0.0.1:${gw.gateway.apiPort}`;
  const admin = cliSession(apiUrl, GATEWAY_ADMIN, home);
  const t0 = Date.now() - 5 * 60_000;

  beforeAll(async () => {
    redis = await startTestRedis();
    gw = await startTestGateway(redis);
    alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
    await runProgram(apiUrl(), alice, ["proxy", "create", "one.test", "http://127.0.0.1:9"], home);
  });
  afterAll(async () => {
    await gw.stop();
    await redis.stop();
  });
  beforeEach(async () => {
    for (const key of await redis.client.keys("*")) if (/^(req:|idx:req:|stream:requests|stats:)/.test(key)) await redis.client.del(key);
    await seedFlush(redis.client, t0, [
      requestRecord({ request_id: "a", ts: t0 - 50, ip: "10.0.0.1", host: "one.test", proxy: "one.test", status: 200, method: "GET", path: "/api/items", user: "alice-gh", client_id: "client-1", duration_ms: 10 }),
      requestRecord({ request_id: "b", ts: t0 - 40, ip: "10.0.0.1", host: "two.test", proxy: "two.test", status: 502, method: "POST", path: "/", duration_ms: 20, error: "upstream_unreachable" }),
      requestRecord({ request_id: "c", ts: t0 - 30, ip: "10.0.0.2", host: "one.test", proxy: "one.test", status: 404, method: "GET", path: "/api/missing", duration_ms: 1200 }),
    ]);
  });

  const jsonIds = async (...args: string[]) => ((await admin.json(...args)) as { request_id: string }[]).map((r) => r.request_id);

  test("each list command and filter", async () => {
    const cases: [string[], string[]][] = [
      [["logs", "search"], ["c", "b", "a"]],
      [["logs", "search", "--status", "5xx"], ["b"]],
      [["logs", "search", "status=4xx method=GET"], ["c"]],
      [["logs", "search", "path=/api/*", "--limit", "1"], ["c"]],
      [["logs", "search", "--path", "/api/items", "--method", "GET"], ["a"]],
      [["logs", "search", "--since", String(t0 - 35)], ["c"]],
      [["logs", "search", "--until", new Date(t0 - 45).toISOString(), "--hours", "1"], ["a"]],
      [["logs", "ip", "10.0.0.1"], ["b", "a"]],
      [["logs", "host", "one.test"], ["c", "a"]],
      [["logs", "client", "client-1"], ["a"]],
      [["logs", "user", "alice-gh"], ["a"]],
      [["logs", "errors"], ["c", "b"]],
      [["logs", "errors", "--host", "one.test"], ["c"]],
      [["logs", "slow"], ["c"]],
    ];
    for (const [args, expected] of cases) expect({ args, ids: await jsonIds(...args) }).toEqual({ args, ids: expected });
  });

  test("table, yaml and csv output", async () => {
    const table = await admin.ok("logs", "search");
    for (const text of ["Time (UTC)", "Client IP", "Request ID", "10.0.0.2", "/api/missing", "404", "upstream_unreachable"]) expect(table).toContain(text);
    expect(table.indexOf("c ")).toBeLessThan(table.indexOf("a "));
    // No value here holds a comma or a quote: a plain split reads the CSV.
    const [header, ...rows] = (await admin.ok("--format", "csv", "logs", "errors")).trimEnd().split("\n").map((line) => line.split(","));
    const column = (name: string) => header!.indexOf(name);
    expect(rows.map((row) => [row[column("Request ID")], row[column("Status")], row[column("Host")]])).toEqual([["c", "404", "one.test"], ["b", "502", "two.test"]]);
    expect(await admin.ok("--format", "yaml", "logs", "slow")).toContain("request_id: c");
    expect(await admin.ok("logs", "search", "--ip", "10.9.9.9")).toContain("No requests match");
  });

  test("a token sees only its proxies' requests; clear is for the admin", async () => {
    const mine = await runProgram(apiUrl(), alice, ["--format", "json", "logs", "search"], home);
    expect(JSON.parse(mine.stdout).map((r: { request_id: string }) => r.request_id)).toEqual(["c", "a"]);
    const refused = await runProgram(apiUrl(), alice, ["logs", "clear"], home);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("403 forbidden");
    expect(await redis.client.exists("idx:req:errors")).toBe(1);
    expect(await admin.ok("logs", "clear")).toMatch(/^Deleted \d+ request-log keys\.\n$/);
    expect(await redis.client.exists("idx:req:errors")).toBe(0);
    expect(await jsonIds("logs", "search")).toEqual([]);
  });

  test("a bad parameter is reported with its name", async () => {
    const bad = await admin.cli("logs", "search", "--status", "5x");
    expect({ code: bad.code, names: /400 invalid_parameter: status:/.test(bad.stderr) }).toEqual({ code: 1, names: true });
    const word = await admin.cli("logs", "search", "color=red");
    expect(word.code).not.toBe(0);
    expect(word.stderr).toContain('"color=red": expected key=value');
  });

  test("events: statistics for the window, as json and as tables", async () => {
    const events = await admin.json("logs", "events", "--hours", "1");
    expect({ total: events.total, errors: events.errors, by_host: events.by_host, p: events.duration_ms_by_proxy["one.test"] }).toEqual({
      total: 3,
      errors: 2,
      by_host: { "one.test": 2, "two.test": 1 },
      p: { count: 2, p50: 10, p95: 1200, p99: 1200 },
    });
    const table = await admin.ok("logs", "stats", "--hours", "1");
    for (const text of ["requests", "2 (66.7%)", "Proxy / Host", "one.test", "1200", "Hour (UTC)"]) expect(table).toContain(text);
  });

  test("follow prints requests as they are recorded, filtered, and stops after --count", async () => {
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        n++;
        await seedFlush(redis.client, Date.now(), [
          requestRecord({ request_id: `ok-${n}`, host: "one.test", proxy: "one.test", status: 200 }),
          requestRecord({ request_id: `bad-${n}`, host: "one.test", proxy: "one.test", status: 503, ip: "10.0.0.8", method: "PUT", path: "/v", duration_ms: 7 }),
        ]);
        await Bun.sleep(50);
      }
    })();
    let run;
    try {
      run = await admin.cli("logs", "follow", "--status", "5xx", "--host", "one.test", "--count", "2");
    } finally {
      writing = false;
      await writer;
    }
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines.length).toBe(2);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} 10\.0\.0\.8 PUT one\.test\/v 503 7ms bad-\d+$/);
    // Piped (not a terminal): no colour codes.
    expect(run.stdout).not.toContain("\x1b[");
    const bad = await admin.cli("logs", "follow", "--status", "nope");
    expect({ code: bad.code, names: bad.stderr.includes("status:") }).toEqual({ code: 1, names: true });
  }, 15_000);
});

describe.skipIf(!justBinary)("just recipes (dry run)", () => {
  const HOME = tempDir("home");
  const dryRun = (...args: string[]) => justDryRun(HOME, ["logs", "--format"], ...args);
  const cases: [string[], string][] = [
    [["logs"], "logs search --hours '1' --limit '100'"],
    [["logs", "6", "app.test", "20", "tok"], "--token 'tok' logs search --hours '6' --limit '20' --host 'app.test'"],
    [["logs-ip", "10.0.0.1"], "logs ip '10.0.0.1' --hours '24' --limit '100'"],
    [["logs-host", "app.test", "2", "5"], "logs host 'app.test' --hours '2' --limit '5'"],
    [["logs-client", "client-1"], "logs client 'client-1' --hours '24' --limit '100'"],
    [["logs-search", "status=5xx path=/api/*", "3", "app.test"], "logs search 'status=5xx path=/api/*' --hours '3' --limit '100' --host 'app.test'"],
    [["logs-errors", "1", "10"], "logs errors --hours '1' --limit '10'"],
    [["logs-errors-debug"], "--format json logs errors --hours '24' --limit '50'"],
    [["logs-errors-debug", "2", "false", "5"], "--format json logs errors --hours '2' --limit '5' --status 5xx"],
    [["logs-stats", "12"], "logs events --hours '12'"],
    [["logs-clear", "tok"], "--token 'tok' logs clear"],
    [["logs-follow"], "logs follow"],
    [["logs-follow", "app.test", "5xx"], "logs follow --host 'app.test' --status '5xx'"],
  ];
  for (const [args, expected] of cases) {
    test(`just ${args.join(" ")}`, async () => {
      const run = await dryRun(...args);
      expect({ code: run.code, line: run.line }).toEqual({ code: 0, line: expected });
    });
  }

  test("a bad include-warnings is refused before anything runs", async () => {
    const run = await dryRun("logs-errors-debug", "24", "maybe");
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("include-warnings: expected true or false");
  });

  test("the gateway's own log is `gateway-log`; logs-help lists the logging recipes one line each", async () => {
    expect((await justDryRun(HOME, ["tail"], "gateway-log", "10")).line).toContain("tail -n '10' -F");
    const child = Bun.spawn([justBinary!, "--justfile", `${import.meta.dir}/../../justfile`, "logs-help"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME }, stdout: "pipe", stderr: "pipe" });
    const [code, out] = await Promise.all([child.exited, new Response(child.stdout).text()]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    for (const recipe of ["gateway-log", "logs", "logs-ip", "logs-host", "logs-client", "logs-search", "logs-errors", "logs-errors-debug", "logs-stats", "logs-clear", "logs-follow", "logs-help"]) {
      const line = lines.find((l) => l.startsWith(`${recipe} `) || l === recipe || l.startsWith(`${recipe}  `));
      expect({ recipe, documented: line?.includes("# ") }).toEqual({ recipe, documented: true });
    }
    expect(lines.every((line) => /^(logs|gateway-log)/.test(line))).toBe(true);
  });
});
