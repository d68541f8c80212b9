/**
 * Where the compiled gateway puts a generated admin token on its first start:
 * on a terminal it is shown once; on a pipe (a log file under `just up`, the
 * journal, `docker logs`) stdout and stderr stay pure JSON lines without it.
 */
import { beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BINARY, ensureBinary, startGatewayProcess, tempDataDir } from "../helpers/gateway-process";

beforeAll(() => ensureBinary(), 120_000);

test("stdout a pipe: every line is a JSON record, none holds the token; the file does (0600)", async () => {
  const dataDir = tempDataDir();
  const gateway = await startGatewayProcess({ dataDir });
  await gateway.waitForHealthy();
  expect(await gateway.stop()).toBe(0);

  const file = join(dataDir, "admin-token");
  const token = readFileSync(file, "utf8").trim();
  expect(token).toMatch(/^acm_[0-9a-f]{64}$/);
  expect(statSync(file).mode & 0o777).toBe(0o600);

  const lines = gateway.output().split("\n").filter((line) => line !== "");
  expect(lines.length).toBeGreaterThan(3);
  const records = lines.map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`not a JSON record: ${JSON.stringify(line)}`);
    }
  });
  expect(lines.filter((line) => line.includes(token))).toEqual([]);
  // The operator learns where to find it.
  expect(records).toContainEqual(expect.objectContaining({ file, msg: expect.stringContaining(`saved to ${file}`) }));
}, 30_000);

test("stdout a terminal (a pty through script(1)): the token is shown once", async () => {
  const dataDir = tempDataDir();
  const quoted = `'${BINARY.replaceAll("'", `'\\''`)}'`;
  const child = Bun.spawn(["script", "-qec", `exec ${quoted} serve`, "/dev/null"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      SHELL: "/bin/sh",
      TERM: "dumb",
      PORTCULLIS_DATA_DIR: dataDir,
      SERVER_HOST: "127.0.0.1",
      API_PORT: "0",
      HTTP_PORT: "0",
      HTTPS_PORT: "0",
      PROXY_PROTOCOL_PORT: "0",
      AUTO_CERTIFICATES: "false",
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) text += decoder.decode(chunk, { stream: true });
  })();
  const lockFile = join(dataDir, "portcullis.lock");
  try {
    for (let i = 0; i < 600 && !text.includes("portcullis is serving"); i++) {
      if (child.exitCode !== null) throw new Error(`script exited with ${child.exitCode}:\n${text}`);
      await Bun.sleep(25);
    }
    expect(text).toContain("portcullis is serving");
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    expect(text).toContain(`Generated the admin token (shown once; also saved to ${join(dataDir, "admin-token")}, mode 0600)`);
    expect(text.split(token).length - 1).toBe(1);
  } finally {
    // The gateway named itself in its lock file; stop it, not just script(1), so its Redis stops too.
    const pid = existsSync(lockFile) ? Number(readFileSync(lockFile, "utf8").trim()) : 0;
    if (pid > 0) process.kill(pid, "SIGTERM");
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
    if (!exited) child.kill("SIGKILL");
  }
}, 40_000);
