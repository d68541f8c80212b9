/**
 * `just up` on a first start: the log file it writes is one JSON record per
 * line (`just gateway-log | jq` works) and never holds the generated admin token;
 * the recipe itself tells the operator where the token is, and shows it only
 * when its own output is a terminal.
 */
import { beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ensureBinary, ROOT } from "../helpers/gateway-process";
import { justBinary } from "../helpers/just-dry-run";
import { preChosenPort } from "../helpers/ports";
import { tempDir } from "../helpers/temp";

beforeAll(() => ensureBinary(), 120_000);

function justEnv(dataDir: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    SHELL: "/bin/sh",
    TERM: "dumb",
    PORTCULLIS_DATA_DIR: dataDir,
    SERVER_HOST: "127.0.0.1",
    API_PORT: String(preChosenPort()),
    HTTP_PORT: "0",
    HTTPS_PORT: "0",
    PROXY_PROTOCOL_PORT: "0",
    AUTO_CERTIFICATES: "false",
  };
}

async function run(argv: string[], env: Record<string, string>) {
  const child = Bun.spawn(argv, { cwd: ROOT, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code, output: stdout + stderr };
}

const just = (env: Record<string, string>, recipe: string) => run([justBinary!, "--justfile", join(ROOT, "justfile"), recipe], env);

test.skipIf(!justBinary)("output piped: the log is pure JSON without the token; the recipe names the file", async () => {
  const dataDir = tempDir("just-up");
  const env = justEnv(dataDir);
  const up = await just(env, "up");
  try {
    expect(up.code).toBe(0);
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    expect(up.output).toContain(`read it with: cat ${dataDir}/admin-token`);
    expect(up.output).not.toContain(token);

    const lines = readFileSync(join(dataDir, "portcullis.log"), "utf8").split("\n").filter((line) => line !== "");
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.filter((line) => line.includes(token))).toEqual([]);
  } finally {
    expect((await just(env, "down")).code).toBe(0);
  }
}, 60_000);

test.skipIf(!justBinary || !Bun.which("script"))("output a terminal: the recipe shows the token once, the log still does not hold it", async () => {
  const dataDir = tempDir("just-up");
  const env = justEnv(dataDir);
  const up = await run(["script", "-qec", `exec '${justBinary}' --justfile '${join(ROOT, "justfile")}' up`, "/dev/null"], env);
  try {
    expect(up.code).toBe(0);
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    expect(up.output.split(token).length - 1).toBe(1);
    expect(readFileSync(join(dataDir, "portcullis.log"), "utf8")).not.toContain(token);
  } finally {
    if (existsSync(join(dataDir, "portcullis.pid"))) expect((await just(env, "down")).code).toBe(0);
  }
}, 60_000);
