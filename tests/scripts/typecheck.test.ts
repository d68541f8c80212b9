/**
 * The whole project (src, tests, native-tls, bench: tsconfig.json's include) type-checks: `bun run
 * typecheck` (tsc --noEmit) exits 0. bun runs TypeScript without checking
 * it, so without this a type error reaches main unnoticed.
 */
import { expect, test } from "bun:test";
import { ROOT } from "../helpers/gateway-process";

test("tsc --noEmit finds no type error", async () => {
  const child = Bun.spawn(["bun", "run", "typecheck"], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  // The compiler's own report, when it finds something, is the message.
  expect({ code, report: code === 0 ? "" : stdout + stderr }).toEqual({ code: 0, report: "" });
}, 120_000);
