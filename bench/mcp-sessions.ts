/**
 * `bun bench/mcp-sessions.ts [--rounds N] [--duration S] [--warmup S] [--connections N]`
 * (or `just bench-mcp-sessions`): what legacy MCP session affinity
 * (src/mcp/session-affinity.ts) costs on an authenticated tools/call to an
 * MCP proxy (resource_endpoint /mcp, auth on), as a 2025-11-25 client:
 *
 *   no session       POST without Mcp-Session-Id (a 2026-07-28 exchange,
 *                    or a stateless server): the answer is looked at for
 *                    a session id the backend might assign
 *   sealed session   POST with the sealed id the gateway handed out: it is
 *                    opened (a lookup once seen), the backend's own id
 *                    goes upstream, and the backend's answer naming it is
 *                    shown to the client as the sealed id again
 *
 * Gateway CPU µs per request (/proc/PID/stat around each wrk run), rounds
 * in rotating order, medians; "sealed session" is compared with "no
 * session" of the same round. Run it in a build from before the feature to
 * see what "no session" cost then (its sealed variant is skipped there).
 * Prints a table; writes nothing.
 */
import { parseRoundArgs } from "./args";
import { AUTH_ENV, AUTH_USER } from "./auth";
import { startPortcullis } from "./portcullis";
import { cleanup } from "./processes";
import { pidsListeningOn } from "./process-cpu";
import { gatewaySample, median, runRounds, startRoundBench } from "./rounds";
import type { HttpTarget } from "./scenarios";
import { postScript } from "./wrk";

const { rounds: ROUNDS, wrk: options } = parseRoundArgs(process.argv.slice(2), 3);
const HOST = "bench-mcp-sessions.local";
const BODY = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "search", arguments: { query: "portcullis benchmark", limit: 10 } } });

async function main(): Promise<void> {
  const { machine, backend } = await startRoundBench();
  const gateway = await startPortcullis({ ...AUTH_ENV });
  const resource = `https://${HOST}/mcp`;
  await gateway.create("/api/v1/proxy/targets/", { hostname: HOST, target_url: `http://127.0.0.1:${backend.port}` });
  await gateway.post(`/api/v1/proxy/targets/${HOST}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read"] }, 200);
  // Plain HTTP computes http://host/mcp as the resource; the token is for the https one (see bench/auth.ts).
  await gateway.post(`/api/v1/proxy/targets/${HOST}/auth`, { auth_enabled: true, auth_mode: "forward", auth_allowed_audiences: [resource] }, 200);
  const token = String((await gateway.create("/api/v1/oauth/test-tokens", { resource, username: AUTH_USER, scope: "mcp:read", lifetime_seconds: 3_600 })).access_token);
  const pids = { gateway: (await pidsListeningOn(gateway.httpPort))[0]!, backend: (await pidsListeningOn(backend.port))[0]! };

  const headers = [`Authorization: Bearer ${token}`, "Content-Type: application/json", "Accept: application/json, text/event-stream", "MCP-Protocol-Version: 2025-11-25"];
  const post = async (extra: Record<string, string>) => {
    const h = new Headers({ host: HOST });
    for (const line of headers) h.set(line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trim());
    for (const [name, value] of Object.entries(extra)) h.set(name, value);
    const res = await fetch(`http://127.0.0.1:${gateway.httpPort}/mcp`, { method: "POST", headers: h, body: BODY });
    await res.arrayBuffer();
    return res;
  };
  const variant = (name: string, extra: string[]): HttpTarget => ({ name, description: "", port: gateway.httpPort, host: HOST, path: "/mcp", headers: [...headers, ...extra], script: postScript(BODY) });

  // Live before measured: the backend opens a session, the client is shown a sealed id, and that id comes back to the backend as its own.
  const opened = await post({ "x-bench-open-session": "1" });
  const shown = opened.headers.get("mcp-session-id");
  if (opened.status !== 200 || shown === null) throw new Error(`opening a session answered ${opened.status}, session ${shown}`);
  const sealing = !shown.startsWith("bench-");
  const variants = [variant("no session", [])];
  if (sealing) {
    const again = await post({ "mcp-session-id": shown });
    if (again.status !== 200 || again.headers.get("mcp-session-id") !== shown) throw new Error("the sealed id does not come back as it was shown");
    variants.push(variant("sealed session", [`Mcp-Session-Id: ${shown}`]));
    console.log(`Pre-check: the backend's id is shown sealed (${shown.length} characters) and kept across requests.`);
  } else {
    console.log("Pre-check: this build shows the backend's own session id (no sealing): measuring \"no session\" only.");
  }
  if ((await post({})).status !== 200) throw new Error("the measured request is not answered 200");

  const samples = await runRounds(variants, ROUNDS, (v) => gatewaySample(v, options, pids), (s) => `${Math.round(s.rps)} (${s.gatewayUs.toFixed(1)} µs)`);

  console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; load at start ${machine.loadAverage}`);
  console.log(`${ROUNDS} rounds; each: ${options.warmup} s warm-up, ${options.duration} s of wrk -t1 -c${options.connections}, POST /mcp tools/call (${BODY.length} bytes)\n`);
  console.log("| variant | req/s median | gateway CPU µs/req: median (min–max) | ÷ no session: median | errors |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  const base = samples.get("no session")!;
  for (const v of variants) {
    const runs = samples.get(v.name)!;
    const us = runs.map((s) => s.gatewayUs);
    console.log(
      `| ${v.name} | ${Math.round(median(runs.map((s) => s.rps)))} | ${median(us).toFixed(2)} (${Math.min(...us).toFixed(2)}–${Math.max(...us).toFixed(2)}) | ` +
        `${median(runs.map((s, i) => s.gatewayUs / base[i]!.gatewayUs)).toFixed(2)}× | ${runs.reduce((n, s) => n + s.errors, 0)} |`,
    );
  }
  await Promise.all([gateway.stop(), backend.stop()]);
}

try {
  await main();
} finally {
  await cleanup();
}
