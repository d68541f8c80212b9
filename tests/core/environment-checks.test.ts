import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { closest, editDistance } from "../../src/core/edit-distance";
import { knownVariables, unknownVariableWarnings } from "../../src/core/env-warnings";
import { startTestRedis } from "../helpers/redis-server";
import { tempDir } from "../helpers/temp";
import { configProblems as problemsOf } from "../helpers/config-problems";


describe("listeners sharing a port are a config error", () => {
  test("HTTP_PORT = HTTPS_PORT is reported together with the other bad variables", () => {
    expect(problemsOf({ HTTP_PORT: "8080", HTTPS_PORT: "8080", LOG_LEVEL: "LOUD" })).toEqual([
      'LOG_LEVEL="LOUD": expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL',
      "HTTPS_PORT=8080: already used by HTTP_PORT; choose another port",
    ]);
  });

  test("every pair of listeners is checked, each collision listed", () => {
    expect(problemsOf({ HTTP_PORT: "9000", PROXY_PROTOCOL_PORT: "8443", HTTPS_PORT: "8443" })).toEqual([
      "API_PORT=9000: already used by HTTP_PORT; choose another port",
      "PROXY_PROTOCOL_PORT=8443: already used by HTTPS_PORT; choose another port",
    ]);
    expect(problemsOf({ HTTP_PORT: "10001" })).toEqual(["PROXY_PROTOCOL_PORT=10001: already used by HTTP_PORT; choose another port"]);
  });

  test("0/any (a free port each) and a listener that is off never collide", () => {
    expect(problemsOf({ HTTP_PORT: "0", HTTPS_PORT: "0", API_PORT: "any", PROXY_PROTOCOL_PORT: "any", METRICS_PORT: "0" })).toEqual([]);
    expect(problemsOf({ HTTP_PORT: "8080", PROXY_PROTOCOL_PORT: "0", HTTPS_PORT: "8443" })).toEqual([]);
  });
});

describe("unknown variables that look like the gateway's", () => {
  test("edit distance and the closest candidate", () => {
    expect(editDistance("HTTP_PROT", "HTTP_PORT")).toBe(2);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
    expect(closest("HTTPS_PRT", ["HTTP_PORT", "HTTPS_PORT"], 2)).toBe("HTTPS_PORT");
    expect(closest("UNRELATED", ["HTTP_PORT"], 2)).toBeUndefined();
  });

  test("a typo of a known variable names the one probably meant", () => {
    expect(unknownVariableWarnings({ HTTP_PROT: "8080", SERVR_HOST: "0.0.0.0", REDIS_URL: "redis://x" })).toEqual([
      "HTTP_PROT is set but portcullis does not read it; did you mean HTTP_PORT?",
      "SERVR_HOST is set but portcullis does not read it; did you mean SERVER_HOST?",
    ]);
  });

  test("any PORTCULLIS_* the gateway does not read is warned about, with a guess when one is close", () => {
    expect(unknownVariableWarnings({ PORTCULLIS_DATADIR: "/srv", PORTCULLIS_MODE: "fast" })).toEqual([
      "PORTCULLIS_DATADIR is set but portcullis does not read it; did you mean PORTCULLIS_DATA_DIR?",
      "PORTCULLIS_MODE is set but portcullis does not read it",
    ]);
  });

  test("a usual environment stays quiet: known variables, other programs' variables, names far from ours", () => {
    const env = {
      PATH: "/usr/bin", HOME: "/root", SHELL: "/bin/bash", USER: "root", LANG: "C.UTF-8", TERM: "xterm", PWD: "/", HOSTNAME: "box",
      HTTP_PROXY: "http://proxy:3128", HTTPS_PROXY: "http://proxy:3128", NO_PROXY: "localhost", DOCKER_HOST: "unix:///run/docker.sock",
      HTTP_PORT: "8080", OIDC_CLIENT_SECRET: "s", API_URL: "http://localhost:9000", TOKEN: "t", NO_COLOR: "1", PORTCULLIS_BUILD_COMMIT: "abc",
    };
    expect(unknownVariableWarnings(env)).toEqual([]);
  });

  test("every variable .env.example documents is a known one (no false warning for a documented setting)", () => {
    const example = readFileSync(join(import.meta.dir, "../../.env.example"), "utf8");
    const documented = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!);
    expect(documented.length).toBeGreaterThan(40);
    const known = knownVariables({});
    expect(documented.filter((name) => !known.has(name))).toEqual([]);
  });
});

describe("portcullis serve", () => {
  test("warns about a mistyped variable, then lists every config error at once (equal ports among them)", async () => {
    const child = Bun.spawn(["bun", "src/main.ts", "serve"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", HTTP_PORT: "8080", HTTPS_PORT: "8080", HTTP_PROT: "80", LOG_LEVEL: "chatty" },
      cwd: join(import.meta.dir, "../.."),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr.split("\n").filter(Boolean)).toEqual([
      "portcullis: warning: HTTP_PROT is set but portcullis does not read it; did you mean HTTP_PORT?",
      "portcullis: invalid configuration:",
      '  LOG_LEVEL="chatty": expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL',
      "  HTTPS_PORT=8080: already used by HTTP_PORT; choose another port",
    ]);
  }, 30_000);
});

test("with a valid configuration the warning is a warn record in the log, and the gateway serves", async () => {
  const redis = await startTestRedis();
  const child = Bun.spawn(["bun", "src/main.ts", "serve"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: "/nonexistent",
      REDIS_URL: redis.url,
      HTTP_PORT: "0",
      HTTPS_PORT: "0",
      API_PORT: "0",
      PROXY_PROTOCOL_PORT: "0",
      SERVER_HOST: "127.0.0.1",
      AUTO_CERTIFICATES: "false",
      PORTCULLIS_DATA_DIR: tempDir("env-warn"),
      PORTCULLIS_DATADIR: "/srv/portcullis",
    },
    cwd: join(import.meta.dir, "../.."),
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes('"msg":"portcullis is serving"')) break;
    }
    const records = text.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
    expect(records.find((r) => r.level === "warn" || r.level === 40)).toMatchObject({
      msg: "PORTCULLIS_DATADIR is set but portcullis does not read it; did you mean PORTCULLIS_DATA_DIR?",
    });
    expect(records.some((r) => r.msg === "portcullis is serving")).toBe(true);
  } finally {
    child.kill("SIGTERM");
    await child.exited;
    await redis.stop();
  }
}, 30_000);
