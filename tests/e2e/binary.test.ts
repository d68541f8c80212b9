/**
 * The compiled executable, black-box: `serve` with the embedded Redis, the
 * admin token bootstrap, persistence across restarts, and the CLI's formats.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { tempDir } from "../helpers/temp";
import { ensureBinary, runCli, startGatewayProcess, tempDataDir, type RunningGateway } from "../helpers/gateway-process";
import { parsePrometheusText, sample } from "../helpers/prometheus-text";

const processAlive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");

beforeAll(() => ensureBinary(), 120_000);

describe("portcullis serve with embedded defaults", () => {
  const dataDir = tempDataDir();
  let gateway: RunningGateway;
  let adminToken: string;
  const home = tempDir("home");
  const cliEnv = () => ({ API_URL: gateway.apiUrl, HOME: home, PORTCULLIS_DATA_DIR: dataDir });

  beforeAll(async () => {
    gateway = await startGatewayProcess({ dataDir, env: { API_HOSTNAME: "Admin.Example.test" } });
    await gateway.waitForHealthy();
    adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  });
  afterAll(() => gateway?.stop());

  test("answers /health and /healthz", async () => {
    const health = await fetch(`${gateway.apiUrl}/health`).then((r) => r.json() as Promise<any>);
    expect(health).toMatchObject({ status: "healthy", redis: "ok", version: expect.any(String) });
    expect(health.uptime_seconds).toBeGreaterThanOrEqual(0);
    expect(await fetch(`${gateway.apiUrl}/healthz`).then((r) => r.text())).toBe("ok");
  });

  test("serves Prometheus /metrics without a token: prom-client works in the compiled binary", async () => {
    expect((await fetch(`http://127.0.0.1:${gateway.httpPort}/`, { headers: { host: "metrics-probe.example.net" } })).status).toBe(404);
    const res = await fetch(`${gateway.apiUrl}/metrics`);
    expect(res.status).toBe(200);
    const families = await parsePrometheusText(await res.text());
    expect(sample(families, "portcullis_http_requests_total", { host: "unknown", method_class: "GET", status_class: "4xx" }).value).toBeGreaterThanOrEqual(1);
    expect(sample(families, "portcullis_redis_up", {}).value).toBe(1);
    expect(sample(families, "portcullis_build_info", {}).value).toBe(1);
    expect(sample(families, "process_resident_memory_bytes", {}).value).toBeGreaterThan(0);
  });

  test("generates the admin token once: saved 0600, not printed (stdout is a pipe), and it works", async () => {
    expect(adminToken).toMatch(/^acm_[0-9a-f]{64}$/);
    expect(statSync(join(dataDir, "admin-token")).mode & 0o777).toBe(0o600);
    // Shown only on a terminal (tests/e2e/admin-token-output.test.ts); never in a log.
    expect(gateway.output()).not.toContain(adminToken);
    const info = await fetch(`${gateway.apiUrl}/api/v1/tokens/info`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(((await info.json()) as any).role).toBe("admin");
  });

  test("the managed redis-server listens on a private socket only", () => {
    expect(statSync(join(dataDir, "redis")).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, "redis/redis.conf")).mode & 0o777).toBe(0o600);
    const pid = Number(readFileSync(join(dataDir, "redis/redis.pid"), "utf8"));
    // The password is not on redis-server's command line.
    const password = readFileSync(join(dataDir, "redis/password"), "utf8").trim();
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(password);
  });

  test("HTTP_PORT hands API_HOSTNAME (only) to the API and names unknown hosts", async () => {
    const base = `http://127.0.0.1:${gateway.httpPort}`;
    for (const host of ["admin.example.test", "admin.example.test:80", "ADMIN.example.test."]) {
      const api = await fetch(`${base}/health`, { headers: { host } });
      expect({ host, status: api.status }).toEqual({ host, status: 200 });
    }
    // The API is off the public listeners unless API_HOSTNAME names a hostname for it.
    expect((await fetch(`${base}/health`, { headers: { host: "localhost" } })).status).toBe(404);
    const unknown = await fetch(`${base}/`, { headers: { host: "nothing.example.net:8080" } });
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain("nothing.example.net");
  });

  test("HTTPS_PORT answers over TLS with the self-signed fallback (curl -k)", async () => {
    const port = gateway.httpsPort;
    const curl = Bun.spawn(["curl", "-sSk", "-v", "--resolve", `admin.example.test:${port}:127.0.0.1`, `https://admin.example.test:${port}/health`], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, body, trace] = await Promise.all([curl.exited, new Response(curl.stdout).text(), new Response(curl.stderr).text()]);
    expect(code).toBe(0);
    expect(trace).toContain("subject: CN=localhost");
    expect(JSON.parse(body)).toMatchObject({ status: "healthy" });
  });

  test("the CLI generates, lists and shows tokens in every format", async () => {
    const generated = await runCli(["--format", "json", "token", "generate", "ci-bot", "bot@example.com"], cliEnv());
    expect(generated.stderr).toBe("");
    expect(generated.code).toBe(0);
    const secret = JSON.parse(generated.stdout).token;
    expect(secret).toMatch(/^acm_/);

    const table = await runCli(["token", "list"], cliEnv());
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("│ Name");
    expect(table.stdout).toMatch(/ci-bot\s+│ service-owner\s+│ bot@example\.com\s+│ just now/);
    expect(table.stdout).not.toContain(secret);

    const json = JSON.parse((await runCli(["--format", "json", "token", "list"], cliEnv())).stdout);
    expect(json.map((t: { name: string }) => t.name)).toEqual(["admin", "ci-bot"]);

    const yaml = parseYaml((await runCli(["--format", "yaml", "token", "list"], cliEnv())).stdout);
    expect(yaml[1]).toMatchObject({ name: "ci-bot", cert_email: "bot@example.com", created_by: "admin" });

    const csv = (await runCli(["--format", "csv", "token", "list"], cliEnv())).stdout.trim().split("\n");
    expect(csv[0]).toBe("Name,Role,Certificate Email,Created,Owner,Token");
    expect(csv[2]).toMatch(/^ci-bot,service-owner,bot@example\.com,\d{4}-\d\d-\d\dT[^,]+,admin,acm_/);

    const shown = JSON.parse((await runCli(["--format", "json", "token", "show", "ci-bot"], cliEnv())).stdout);
    expect(shown.token).toBe(secret);

    // The new token sees only itself.
    const own = JSON.parse((await runCli(["--token", secret, "--format", "json", "token", "list"], cliEnv())).stdout);
    expect(own.map((t: { name: string }) => t.name)).toEqual(["ci-bot"]);

    const emailed = await runCli(["--format", "json", "token", "email", "ci-bot", "new@example.com"], cliEnv());
    expect(JSON.parse(emailed.stdout).cert_email).toBe("new@example.com");

    const deleted = await runCli(["token", "delete", "ci-bot"], cliEnv());
    expect(deleted.code).toBe(0);
    const after = JSON.parse((await runCli(["--format", "json", "token", "list"], cliEnv())).stdout);
    expect(after.map((t: { name: string }) => t.name)).toEqual(["admin"]);
  });

  test("CLI errors are one clear line and a non-zero exit", async () => {
    const missing = await runCli(["token", "show", "ghost"], cliEnv());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404 not_found: token "ghost" not found');

    const dup = await runCli(["token", "generate", "dup"], cliEnv());
    expect(dup.code).toBe(0);
    const again = await runCli(["token", "generate", "dup"], cliEnv());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("409 conflict");

    const unreachable = await runCli(["token", "list"], { ...cliEnv(), API_URL: "http://127.0.0.1:1" });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach the API at http://127.0.0.1:1");

    const badToken = await runCli(["--token", "acm_nope_nope_nope_nope_nope", "token", "list"], cliEnv());
    expect(badToken.stderr).toContain("401 unauthorized");
  });

  test("the CLI reads ~/.config/portcullis/config.yml", async () => {
    const configDir = join(home, ".config/portcullis");
    mkdirSync(configDir, { recursive: true });
    writeFileSync(join(configDir, "config.yml"), `api_url: ${gateway.apiUrl}\ntoken: ${adminToken}\nformat: csv\n`);
    const result = await runCli(["token", "list"], { HOME: home, PORTCULLIS_DATA_DIR: "/nonexistent" });
    expect(result.stdout.split("\n")[0]).toBe("Name,Role,Certificate Email,Created,Owner,Token");
  });

  test("HTTPS to an IP address: a proxy for 127.0.0.1 makes the local CA's certificate for it the default, which curl verifies without SNI against `cert root`", async () => {
    const backend = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("by address\n") });
    try {
      const created = await runCli(["proxy", "create", "127.0.0.1", `http://127.0.0.1:${backend.port}`], cliEnv());
      expect(created.code).toBe(0);
      // JSON: the earlier test left a config.yml asking for csv in this HOME.
      const root = await runCli(["--format", "json", "cert", "root"], cliEnv());
      expect(root.code).toBe(0);
      const caFile = join(tempDir("binary-root"), "root.pem");
      writeFileSync(caFile, JSON.parse(root.stdout).pem);
      // The new certificates are served once the HTTPS listener has swapped (asynchronous, with a short drain).
      const url = `https://127.0.0.1:${gateway.httpsPort}/`;
      let answer = { code: -1, body: "", trace: "" };
      for (const deadline = Date.now() + 15_000; answer.code !== 0 && Date.now() < deadline; await Bun.sleep(100)) {
        const curl = Bun.spawn(["curl", "-sS", "--max-time", "5", "--cacert", caFile, url], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
        const [code, body, trace] = await Promise.all([curl.exited, new Response(curl.stdout).text(), new Response(curl.stderr).text()]);
        answer = { code, body, trace };
      }
      expect(answer).toMatchObject({ code: 0, body: "by address\n" });
      expect((await runCli(["proxy", "delete", "127.0.0.1"], cliEnv())).code).toBe(0);
    } finally {
      backend.stop(true);
    }
  }, 30_000);

  test("help and version", async () => {
    const help = await runCli(["--help"], {});
    expect(help.stdout).toContain("serve");
    expect(help.stdout).toContain("token");
    const tokenHelp = await runCli(["token", "--help"], {});
    for (const verb of ["generate", "show", "list", "delete", "email"]) expect(tokenHelp.stdout).toContain(verb);
    const version = await runCli(["version"], {});
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("state survives a restart; the embedded redis stops with the gateway", () => {
  test("tokens persist, the admin token is not regenerated, redis exits on SIGTERM", async () => {
    const dataDir = tempDataDir();
    const first = await startGatewayProcess({ dataDir });
    await first.waitForHealthy();
    const admin = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    const created = await fetch(`${first.apiUrl}/api/v1/tokens/`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "keeper" }),
    });
    expect(created.status).toBe(201);
    const redisPid = Number(readFileSync(join(dataDir, "redis/redis.pid"), "utf8"));
    expect(processAlive(redisPid)).toBe(true);

    expect(await first.stop()).toBe(0);
    expect(processAlive(redisPid)).toBe(false);

    const second = await startGatewayProcess({ dataDir });
    try {
      await second.waitForHealthy();
      expect(second.output()).not.toContain(admin); // not announced again
      const list = await fetch(`${second.apiUrl}/api/v1/tokens/`, { headers: { authorization: `Bearer ${admin}` } });
      expect(((await list.json()) as any).map((t: { name: string }) => t.name)).toEqual(["admin", "keeper"]);
    } finally {
      await second.stop();
    }
  });

  test("a redis-server left behind by a killed gateway is replaced", async () => {
    const dataDir = tempDataDir();
    const first = await startGatewayProcess({ dataDir });
    await first.waitForHealthy();
    const orphan = Number(readFileSync(join(dataDir, "redis/redis.pid"), "utf8"));
    first.child.kill("SIGKILL");
    await first.child.exited;
    expect(processAlive(orphan)).toBe(true);

    const second = await startGatewayProcess({ dataDir });
    try {
      await second.waitForHealthy();
      expect(processAlive(orphan)).toBe(false);
    } finally {
      await second.stop();
    }
  });
});
