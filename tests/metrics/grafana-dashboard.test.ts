/**
 * docs/grafana/portcullis-dashboard.json imports into Grafana and reads only
 * what the gateway exports: the structure Grafana's import needs (the
 * DS_PROMETHEUS input, unique panel ids, grid positions, targets with an
 * expression, datasource references through the input, the host variable),
 * every expression parsed by promtool (Prometheus's own PromQL parser), and
 * every metric an expression names present in a real gateway's /metrics
 * after traffic. The same output passes `promtool check metrics`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { namedBackend, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { closedPort } from "../helpers/ports";
import { parsePrometheusText, samples, type Families } from "../helpers/prometheus-text";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { streamBackend } from "../helpers/stream-backend";
import { tempDir } from "../helpers/temp";

const DASHBOARD_FILE = join(import.meta.dir, "../../docs/grafana/portcullis-dashboard.json");
const DATASOURCE = { type: "prometheus", uid: "${DS_PROMETHEUS}" };
const PANEL_TYPES = new Set(["row", "timeseries", "table", "stat", "gauge", "bargauge"]);

interface Target {
  expr: string;
  refId: string;
  datasource: unknown;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: unknown;
  targets?: Target[];
}

const dashboard = (await Bun.file(DASHBOARD_FILE).json()) as {
  __inputs: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; datasource: unknown; query: { query: string } | string; definition: string }[] };
};
const queryPanels = dashboard.panels.filter((p) => p.type !== "row");
const targets = queryPanels.flatMap((panel) => panel.targets!.map((target) => ({ panel, target })));

const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"]);

/** The metric names a PromQL expression reads (functions, labels, strings, ranges and keywords left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    // Numbers and durations (offset 5m, 0.99, 86400).
    .replace(/\b\d[\w.]*/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names: string[] = [];
  for (const [, name, call] of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (!call && !PROMQL_WORDS.has(name!)) names.push(name!);
  }
  return names;
}

/** The family a series name belongs to: a histogram's _bucket, _sum and _count are its family's. */
function familyOf(families: Families, series: string): string | undefined {
  if (families[series]) return series;
  const base = series.replace(/_(bucket|sum|count)$/, "");
  return families[base]?.type === "histogram" || families[base]?.type === "summary" ? base : undefined;
}

async function run(command: string[], stdin?: string): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn(command, { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: stdout + stderr };
}

describe("structure Grafana's import needs", () => {
  test("a Prometheus datasource input, schema version, uid and title", () => {
    expect(dashboard.__inputs).toContainEqual(expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" }));
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBe("Portcullis");
  });

  test("panels: unique ids, known types, grid positions inside 24 columns without overlap, targets through the input", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const taken = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(Number.isInteger(panel.id) && panel.id > 0).toBe(true);
      expect(PANEL_TYPES.has(panel.type)).toBe(true);
      expect(panel.title.length).toBeGreaterThan(0);
      const { x, y, w, h } = panel.gridPos;
      for (const n of [x, y, w, h]) expect(Number.isInteger(n) && n >= 0).toBe(true);
      expect(w).toBeGreaterThan(0);
      expect(x + w).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const cell = `${row}:${column}`;
          if (taken.has(cell)) throw new Error(`panel ${panel.id} (${panel.title}) overlaps another at ${cell}`);
          taken.add(cell);
        }
      }
    }
    expect(queryPanels.length).toBeGreaterThanOrEqual(15);
    for (const panel of queryPanels) {
      expect(panel.datasource).toEqual(DATASOURCE);
      expect(panel.targets!.length).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(target.datasource).toEqual(DATASOURCE);
        expect(target.expr.trim().length).toBeGreaterThan(0);
      }
    }
    // Nothing points at a datasource other than the input.
    expect(JSON.stringify(dashboard).match(/"uid":\s*"[^"]*"/g)!.filter((uid) => !uid.includes("${DS_PROMETHEUS}") && !uid.includes("-- Grafana --") && !uid.includes("portcullis-gateway"))).toEqual([]);
  });

  test("the host variable lists the hosts the request counter has", () => {
    const host = dashboard.templating.list.find((v) => v.name === "host")!;
    expect(host.type).toBe("query");
    expect(host.datasource).toEqual(DATASOURCE);
    expect(host.definition).toBe("label_values(portcullis_http_requests_total, host)");
    expect(typeof host.query === "string" ? host.query : host.query.query).toBe("label_values(portcullis_http_requests_total, host)");
  });

  test("the metric-name reader sees through functions, labels, ranges and grouping", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket{host=~"$host"}[$__rate_interval])))')).toEqual(["a_bucket"]);
    expect(metricNames("sum(rate(x_total[5m])) / sum without (job) (y) and on (instance) z offset 5m")).toEqual(["x_total", "y", "z"]);
  });

  test("every expression parses with promtool (Grafana's variables replaced by values Prometheus would see)", async () => {
    const rules = targets.map(({ panel, target }) => ({
      record: `dashboard:panel_${panel.id}_${target.refId}`,
      expr: target.expr.replaceAll("$__rate_interval", "1m").replaceAll("$host", ".*"),
    }));
    const file = join(tempDir("grafana"), "dashboard-rules.yml");
    // JSON is YAML: promtool reads it as a rule file.
    await Bun.write(file, JSON.stringify({ groups: [{ name: "dashboard", rules }] }));
    const checked = await run(["promtool", "check", "rules", file]);
    expect(checked.output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(checked.code).toBe(0);
  });
});

describe("against a running gateway after traffic", () => {
  let redis: TestRedis;
  let gw: TestGateway;
  let families: Families;
  let exposition: string;
  const backend = namedBackend("grafana");
  const streams = streamBackend({ eventsOnlyOn: "/events" });

  beforeAll(async () => {
    redis = await startTestRedis();
    gw = await startTestGateway(redis);
    const create = async (hostname: string, target: string) => {
      expect((await gw.api("POST", "/api/v1/proxy/targets/", { hostname, target_url: target })).status).toBe(201);
      for (let i = 0; i < 200 && (await gw.get(hostname)).status === 404; i++) await Bun.sleep(10);
    };
    await create("ok.grafana.test", `http://127.0.0.1:${backend.port}`);
    await create("down.grafana.test", `http://127.0.0.1:${closedPort()}`);
    await create("ws.grafana.test", `http://127.0.0.1:${streams.port}`);
    for (let i = 0; i < 5; i++) expect((await gw.get("ok.grafana.test", `/p${i}`)).status).toBe(200);
    expect((await gw.get("down.grafana.test")).status).toBe(502);
    expect((await gw.get("nobody.grafana.test")).status).toBe(404);
    const ws = new WebSocket(`ws://127.0.0.1:${gw.gateway.httpPort}/`, { headers: { host: "ws.grafana.test" } } as Bun.WebSocketOptions);
    await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
    ws.close();
    exposition = await (await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/metrics`)).text();
    families = await parsePrometheusText(exposition);
  }, 20_000);
  afterAll(async () => {
    await gw?.stop();
    await redis?.stop();
    backend.stop(true);
    streams.stop(true);
  });

  test("every metric a panel reads is exported by the gateway", () => {
    const missing: string[] = [];
    const read = new Set<string>();
    for (const { panel, target } of targets) {
      const names = metricNames(target.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        read.add(name);
        if (!familyOf(families, name)) missing.push(`${name} (panel ${panel.id} "${panel.title}")`);
      }
    }
    expect(missing).toEqual([]);
    // The panels cover each series family issue 15 asks for.
    for (const family of [
      "portcullis_http_requests_total",
      "portcullis_http_request_duration_seconds_bucket",
      "portcullis_upstream_errors_total",
      "portcullis_auth_outcomes_total",
      "portcullis_open_websockets",
      "portcullis_open_event_streams",
      "portcullis_pending_requests",
      "portcullis_certificate_expiry_seconds",
      "portcullis_acme_issuances_total",
      "portcullis_oauth_tokens_total",
      "portcullis_redis_up",
      "portcullis_redis_command_duration_seconds_bucket",
      "portcullis_redis_ping_failures_total",
      "portcullis_request_log_queue_depth",
      "portcullis_request_log_dropped_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_p99_seconds",
      "portcullis_build_info",
    ]) {
      expect(read).toContain(family);
    }
  });

  test("the traffic's series have samples (the panels show data, not only empty families)", () => {
    const hosts = new Set(samples(families, "portcullis_http_requests_total").map((s) => s.labels.host));
    expect([...hosts].sort()).toEqual(expect.arrayContaining(["down.grafana.test", "ok.grafana.test", "unknown"]));
    expect(samples(families, "portcullis_upstream_errors_total").some((s) => s.labels.host === "down.grafana.test")).toBe(true);
    expect(samples(families, "portcullis_certificate_expiry_seconds").length).toBeGreaterThan(0);
  });

  test("promtool check metrics finds nothing wrong with the portcullis_ series", async () => {
    const checked = await run(["promtool", "check", "metrics"], exposition);
    // 0: clean; 3: lint remarks only (1 would be a parse error).
    expect([0, 3]).toContain(checked.code);
    const remarks = checked.output.split("\n").filter((line) => line.trim() !== "");
    // prom-client's own default gauges end in _total; ours must draw no remark at all.
    expect(remarks.filter((line) => !/^nodejs_active_(handles|requests|resources)_total /.test(line))).toEqual([]);
  });
});
