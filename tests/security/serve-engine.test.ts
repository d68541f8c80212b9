/**
 * HTTP_ENGINE=serve (Bun.serve for every plain-HTTP request, the way back
 * from the raw edge) must stay as safe as the default: the security suite,
 * the PROXY protocol listeners and event streams run again on it, in a child
 * `bun test` with TEST_HTTP_ENGINE=serve (tests/helpers/gateway-in-process.ts).
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const SUITES = ["tests/security", "tests/dispatcher/proxy-protocol.test.ts", "tests/proxies/sse.test.ts"];

test("the security suite passes on HTTP_ENGINE=serve", async () => {
  if (process.env.TEST_HTTP_ENGINE) return; // already the child run
  const child = Bun.spawn([process.execPath, "test", "--timeout", "30000", ...SUITES], {
    cwd: ROOT,
    env: { ...process.env, TEST_HTTP_ENGINE: "serve" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const output = stdout + stderr;
  const failures = output.split("\n").filter((line) => line.startsWith("(fail)"));
  expect({ failures, code }).toEqual({ failures: [], code: 0 });
  expect(output).toMatch(/\n\s*[1-9]\d* pass\n/);
}, 240_000);
