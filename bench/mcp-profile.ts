/**
 * `bun bench/mcp-profile.ts [--rounds N] [--duration S] [--warmup S] [--connections N]`
 * (or `just bench-mcp`): what the MCP edge (src/mcp) costs on an
 * authenticated tools/call. One gateway, one backend, wrk POSTing a JSON-RPC
 * tools/call with `Authorization: Bearer <token>` to /mcp, in rotating order,
 * round after round, as a 2025-06-18 client and as a 2026-07-28 one (its
 * envelope in the body, Mcp-Method / Mcp-Name headers):
 *
 *   auth only            a proxy with auth on and no MCP endpoint: the edge
 *                        checks the token and never reads the body
 *   auth + tool policy   an MCP proxy (resource_endpoint /mcp) with
 *                        mcp_tool_scopes and mcp_method_scopes: the body is
 *                        read once, parsed, its tool's scopes checked, and
 *                        for the 2026-07-28 client its headers held to it
 *   auth + tool policy + rate limit
 *                        the same policy on another MCP proxy, with two rate
 *                        limits the call matches (its tool's and every
 *                        tools/call's), too high to trigger: the call is
 *                        counted, never refused
 *
 * Reads the gateway's CPU time around each measurement (/proc/PID/stat) and
 * divides it by the requests served; each policy variant is compared, per
 * round, with auth only for the same request, then the median is taken.
 * Every variant is first shown to be live (the policy refuses what it must).
 * Prints a table; writes nothing.
 */
import { parseRoundArgs } from "./args";
import { AUTH_ENV, AUTH_USER } from "./auth";
import { startPortcullis, type RunningPortcullis } from "./portcullis";
import { cleanup } from "./processes";
import { pidsListeningOn } from "./process-cpu";
import { gatewaySample, median, runRounds, startRoundBench } from "./rounds";
import type { HttpTarget } from "./scenarios";
import { postScript } from "./wrk";

const { rounds: ROUNDS, wrk: options } = parseRoundArgs(process.argv.slice(2), 3);

const AUTH_ONLY_HOST = "bench-mcp-auth.local";
const POLICY_HOST = "bench-mcp-policy.local";
const LIMIT_HOST = "bench-mcp-limit.local";
const MODERN = "2026-07-28";

/** The policy measured: a few exact names, a glob and a method entry, so the lookup is not a one-entry special case. */
const TOOL_SCOPES = { search: ["mcp:read"], fetch_page: ["mcp:read"], "admin_*": ["mcp:admin"], "write_*": ["mcp:write"] };
const METHOD_SCOPES = { "resources/read": ["mcp:read"], "prompts/*": ["mcp:read"] };
/** Limits the measured call matches (far above what wrk reaches), and one the pre-check trips. */
const RATE_LIMITS = [
  { tool: "search", per_second: 1_000_000 },
  { method: "tools/call", per_second: 1_000_000 },
  { tool: "limited_probe", per_hour: 1 },
];

const envelope = { _meta: { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" }, "io.modelcontextprotocol/clientCapabilities": {} } };
const toolsCall = (name: string, modern = false) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: { query: "portcullis benchmark", limit: 10 }, ...(modern ? envelope : {}) } });

async function configure(gateway: RunningPortcullis, backendUrl: string, host: string, policy: boolean, limits = false): Promise<string> {
  const resource = policy ? `https://${host}/mcp` : `https://${host}`;
  await gateway.create("/api/v1/proxy/targets/", { hostname: host, target_url: backendUrl });
  if (policy) await gateway.post(`/api/v1/proxy/targets/${host}/resource`, { resource_endpoint: "/mcp", resource_scopes: ["mcp:read", "mcp:write", "mcp:admin"] }, 200);
  // Plain HTTP computes http://host/mcp as the resource; the token is for the https one (see bench/auth.ts).
  await gateway.post(`/api/v1/proxy/targets/${host}/auth`, { auth_enabled: true, auth_mode: "forward", auth_allowed_audiences: [resource] }, 200);
  if (policy) await gateway.post(`/api/v1/proxy/targets/${host}/mcp-policy`, { mcp_tool_scopes: TOOL_SCOPES, mcp_method_scopes: METHOD_SCOPES }, 200);
  if (limits) await gateway.post(`/api/v1/proxy/targets/${host}/mcp-policy`, { mcp_rate_limits: RATE_LIMITS }, 200);
  const token = await gateway.create("/api/v1/oauth/test-tokens", { resource, username: AUTH_USER, scope: "mcp:read mcp:write", lifetime_seconds: 3_600 });
  return String(token.access_token);
}

interface Variant extends HttpTarget {
  readonly body: string;
  /** The variant this one is compared with: the same request with auth only. */
  readonly baseline: string;
}

function target(name: string, baseline: string, port: number, host: string, token: string, body: string, extra: string[]): Variant {
  const headers = [`Authorization: Bearer ${token}`, "Content-Type: application/json", "Accept: application/json, text/event-stream", ...extra];
  return { name, description: "", port, host, path: "/mcp", headers, script: postScript(body), body, baseline };
}

/** One POST as wrk sends it; the status the edge answered. */
async function send(t: HttpTarget, body: string, replace: Record<string, string> = {}): Promise<number> {
  const headers = new Headers({ Host: t.host });
  for (const line of t.headers ?? []) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  for (const [name, value] of Object.entries(replace)) headers.set(name, value);
  const response = await fetch(`http://127.0.0.1:${t.port}${t.path}`, { method: "POST", headers, body, signal: AbortSignal.timeout(5_000) });
  await response.arrayBuffer();
  return response.status;
}

async function main(): Promise<void> {
  const { machine, backend } = await startRoundBench();
  const backendUrl = `http://127.0.0.1:${backend.port}`;
  const gateway = await startPortcullis({ ...AUTH_ENV });
  const authOnlyToken = await configure(gateway, backendUrl, AUTH_ONLY_HOST, false);
  const policyToken = await configure(gateway, backendUrl, POLICY_HOST, true);
  const limitToken = await configure(gateway, backendUrl, LIMIT_HOST, true, true);
  const pids = { gateway: (await pidsListeningOn(gateway.httpPort))[0]!, backend: (await pidsListeningOn(backend.port))[0]! };

  const legacy = ["MCP-Protocol-Version: 2025-06-18"];
  const modern = [`MCP-Protocol-Version: ${MODERN}`, "Mcp-Method: tools/call", "Mcp-Name: search"];
  const port = gateway.httpPort;
  const authOnly = target("auth only, 2025-06-18", "auth only, 2025-06-18", port, AUTH_ONLY_HOST, authOnlyToken, toolsCall("search"), legacy);
  const policy = target("auth + tool policy, 2025-06-18", authOnly.name, port, POLICY_HOST, policyToken, toolsCall("search"), legacy);
  const authOnlyModern = target("auth only, 2026-07-28", "auth only, 2026-07-28", port, AUTH_ONLY_HOST, authOnlyToken, toolsCall("search", true), modern);
  const policyModern = target("auth + tool policy, 2026-07-28", authOnlyModern.name, port, POLICY_HOST, policyToken, toolsCall("search", true), modern);
  const limited = target("auth + tool policy + rate limit, 2025-06-18", authOnly.name, port, LIMIT_HOST, limitToken, toolsCall("search"), legacy);
  const variants = [authOnly, policy, limited, authOnlyModern, policyModern];

  // Live before measured: each variant answers 200, and the policy refuses what it must.
  for (const v of variants) if ((await send(v, v.body)) !== 200) throw new Error(`${v.name}: the measured request is not answered 200`);
  const checks = [
    [await send(policy, toolsCall("admin_drop")), 403, "a tools/call of admin_drop without mcp:admin"],
    [await send(authOnly, toolsCall("admin_drop")), 200, "the same call on the proxy without a policy"],
    [await send(policyModern, toolsCall("search", true), { "mcp-method": "tools/list" }), 400, "a 2026-07-28 Mcp-Method that lies"],
    [await send(limited, toolsCall("limited_probe")), 200, "the first limited_probe call (1 an hour)"],
    [await send(limited, toolsCall("limited_probe")), 429, "the second limited_probe call"],
  ] as const;
  for (const [status, expected, what] of checks) if (status !== expected) throw new Error(`pre-check: ${what} answered ${status}, expected ${expected}`);
  console.log("Pre-check: every variant answers 200; admin_drop → 403 with the policy, 200 without; a lying 2026-07-28 Mcp-Method → 400; a tool limited to 1 an hour → 200, then 429.");

  const samples = await runRounds(variants, ROUNDS, (v) => gatewaySample(v, options, pids), (s) => `${Math.round(s.rps)} (${s.gatewayUs.toFixed(1)} µs)`);

  console.log(`\n${machine.cpuModel}, ${machine.nproc} CPUs; Bun ${machine.bun}; source ${machine.revision}; load at start ${machine.loadAverage}`);
  console.log(`${ROUNDS} rounds; each: ${options.warmup} s warm-up, ${options.duration} s of wrk -t1 -c${options.connections}, POST /mcp tools/call (${toolsCall("search").length} bytes; ${toolsCall("search", true).length} with the 2026-07-28 envelope)\n`);
  console.log("| variant | req/s median | ÷ auth only (same request), per round: median | gateway CPU µs/req: median (min–max) | ÷ auth only: median | errors |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const v of variants) {
    const runs = samples.get(v.name)!;
    const base = samples.get(v.baseline)!;
    const us = runs.map((s) => s.gatewayUs);
    console.log(
      `| ${v.name} | ${Math.round(median(runs.map((s) => s.rps)))} | ${median(runs.map((s, i) => s.rps / base[i]!.rps)).toFixed(2)}× | ` +
        `${median(us).toFixed(2)} (${Math.min(...us).toFixed(2)}–${Math.max(...us).toFixed(2)}) | ${median(runs.map((s, i) => s.gatewayUs / base[i]!.gatewayUs)).toFixed(2)}× | ${runs.reduce((n, s) => n + s.errors, 0)} |`,
    );
  }
  await Promise.all([gateway.stop(), backend.stop()]);
}

try {
  await main();
} finally {
  await cleanup();
}
