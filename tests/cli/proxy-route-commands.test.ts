/** The pure parts of `portcullis proxy …` and `portcullis route …`: flag parsing, request bodies, columns. */
import { describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { CliError } from "../../src/cli/cli-error";
import {
  parseHeaders,
  PROXY_COLUMNS,
  proxyBody,
  proxyStatus,
  proxySummary,
  renderRouteControl,
  routeControlBody,
  type ProxyView,
  type RouteControlView,
} from "../../src/cli/commands/proxy";
import {
  emptyRoutesHint,
  filterByScope,
  parseInteger,
  routeBody,
  routeMethods,
  routePath,
  routeScope,
  routeTarget,
  splitList,
  type RouteView,
} from "../../src/cli/commands/route";
import { renderList } from "../../src/cli/output";

const route = (overrides: Partial<RouteView> = {}): RouteView => ({
  route_id: "api",
  path_pattern: "/api/",
  target_type: "url",
  target_value: "http://10.0.0.7:8080/",
  priority: 90,
  methods: [],
  is_regex: false,
  enabled: true,
  scope: "global",
  proxy_hostnames: [],
  description: "",
  override_proxy_auth: false,
  auth_config: null,
  created_by: "admin",
  created_at: "2026-01-10T12:00:00.000Z",
  updated_at: "2026-01-10T12:00:00.000Z",
  ...overrides,
});

const proxy = (overrides: Partial<ProxyView> = {}): ProxyView => ({
  hostname: "app.example.com",
  target_url: "http://10.0.0.5:3000/",
  enabled: true,
  enable_http: true,
  enable_https: true,
  auth_enabled: false,
  cert_name: null,
  route_mode: "all",
  created_at: "2026-01-10T12:00:00.000Z",
  ...overrides,
});

describe("parseHeaders", () => {
  test("NAME=VALUE pairs, split at the first =, empty values kept", () => {
    expect(parseHeaders("--header", ["X-Env=prod", "X-Query=a=b", " X-Empty =", "X-Spaced= v "])).toEqual({
      "X-Env": "prod",
      "X-Query": "a=b",
      "X-Empty": "",
      "X-Spaced": " v ",
    });
    expect(parseHeaders("--header", [])).toEqual({});
  });

  for (const bad of ["X-Env", "=value", " =x", ""]) {
    test(`${JSON.stringify(bad)} is a CliError naming the flag and the expected shape`, () => {
      expect(() => parseHeaders("--response-header", [bad])).toThrow(CliError);
      expect(() => parseHeaders("--response-header", [bad])).toThrow(/--response-header .*expected NAME=VALUE/);
    });
  }

  test("a name given twice (in any case) is refused rather than silently merged", () => {
    expect(() => parseHeaders("--header", ["X-A=1", "x-a=2"])).toThrow("--header: x-a is given twice");
  });
});

describe("splitList and parseInteger", () => {
  test("comma lists: trimmed, empty items dropped, '' is the empty list", () => {
    expect(splitList("GET, post,,PUT ")).toEqual(["GET", "post", "PUT"]);
    expect(splitList("")).toEqual([]);
    expect(splitList(" , ")).toEqual([]);
  });

  test("integers only", () => {
    expect(parseInteger("--priority", "90")).toBe(90);
    expect(parseInteger("--priority", " 7 ")).toBe(7);
    expect(parseInteger("--priority", "-1")).toBe(-1); // the server owns the range
    for (const bad of ["", "abc", "1.5", "1e3", "0x10", "5x"]) {
      expect(() => parseInteger("--priority", bad)).toThrow(`--priority ${JSON.stringify(bad)}: expected an integer`);
    }
  });
});

describe("proxyBody", () => {
  test("only the flags given reach the body", () => {
    expect(proxyBody({})).toEqual({});
    expect(proxyBody({ preserveHost: false, enableHttps: true })).toEqual({ preserve_host_header: false, enable_https: true });
  });

  test("every flag maps to its API field", () => {
    expect(
      proxyBody({
        target: "http://b:1",
        preserveHost: true,
        enableHttp: false,
        enableHttps: false,
        header: ["X-A=1"],
        responseHeader: ["X-R=2"],
        disabled: true,
      }),
    ).toEqual({
      target_url: "http://b:1",
      preserve_host_header: true,
      enable_http: false,
      enable_https: false,
      custom_headers: { "X-A": "1" },
      custom_response_headers: { "X-R": "2" },
      enabled: false,
    });
  });

  test("update: --enable/--disable and clearing the header maps", () => {
    expect(proxyBody({ enable: true })).toEqual({ enabled: true });
    expect(proxyBody({ disable: true })).toEqual({ enabled: false });
    expect(proxyBody({ clearHeaders: true, clearResponseHeaders: true })).toEqual({ custom_headers: null, custom_response_headers: null });
  });

  test("a bad --header stops before any request", () => {
    expect(() => proxyBody({ header: ["no-equals"] })).toThrow(CliError);
  });
});

describe("routeControlBody", () => {
  test("repeated flags and comma lists combine; '' clears a list", () => {
    expect(routeControlBody({})).toEqual({});
    expect(routeControlBody({ mode: "selective", enableRoute: ["a,b", "c"] })).toEqual({ route_mode: "selective", enabled_routes: ["a", "b", "c"] });
    expect(routeControlBody({ disableRoute: [""] })).toEqual({ disabled_routes: [] });
  });
});

describe("routeBody", () => {
  test("create: positional fields plus the flags given", () => {
    expect(routeBody({ path: "/api/", targetType: "url", targetValue: "http://x" })).toEqual({
      path_pattern: "/api/",
      target_type: "url",
      target_value: "http://x",
    });
    expect(
      routeBody({ path: "^/v[0-9]+", targetType: "service", targetValue: "svc", priority: "90", methods: "GET,post", regex: true, description: "d", id: "r1", disabled: true }),
    ).toEqual({
      path_pattern: "^/v[0-9]+",
      target_type: "service",
      target_value: "svc",
      priority: 90,
      methods: ["GET", "post"],
      is_regex: true,
      description: "d",
      route_id: "r1",
      enabled: false,
    });
  });

  test("--proxies alone means scope proxy; an explicit --scope is sent as given", () => {
    expect(routeBody({ proxies: "a.example.com, b.example.com" })).toEqual({ scope: "proxy", proxy_hostnames: ["a.example.com", "b.example.com"] });
    expect(routeBody({ scope: "global", proxies: "a.example.com" })).toEqual({ scope: "global", proxy_hostnames: ["a.example.com"] });
    expect(routeBody({ scope: "proxy" })).toEqual({ scope: "proxy" });
  });

  test("update: empty methods means every method; --enable, --disable, --no-regex", () => {
    expect(routeBody({ methods: "", enable: true, regex: false })).toEqual({ methods: [], enabled: true, is_regex: false });
    expect(routeBody({ disable: true })).toEqual({ enabled: false });
  });

  test("a non-integer --priority is a CliError", () => {
    expect(() => routeBody({ priority: "high" })).toThrow(CliError);
  });
});

describe("route columns", () => {
  test("path, methods, target and scope as the spec's route table shows them", () => {
    expect(routePath(route())).toBe("/api/");
    expect(routePath(route({ is_regex: true, path_pattern: "^/v[0-9]+/" }))).toBe("~^/v[0-9]+/");
    expect(routeMethods(route())).toBe("*");
    expect(routeMethods(route({ methods: ["GET", "POST"] }))).toBe("GET,POST");
    expect(routeTarget(route())).toBe("url:http://10.0.0.7:8080/");
    expect(routeTarget(route({ target_type: "service", target_value: "billing" }))).toBe("service:billing");
    expect(routeScope(route())).toBe("global");
    expect(routeScope(route({ scope: "proxy", proxy_hostnames: ["a.example.com", "b.example.com"] }))).toBe("proxy:a.example.com,b.example.com");
  });

  test("scope filter and the empty-state line for each scope", () => {
    const routes = [route({ route_id: "g" }), route({ route_id: "p", scope: "proxy", proxy_hostnames: ["a.example.com"] })];
    expect(filterByScope(routes, "all").map((r) => r.route_id)).toEqual(["g", "p"]);
    expect(filterByScope(routes, "global").map((r) => r.route_id)).toEqual(["g"]);
    expect(filterByScope(routes, "proxy").map((r) => r.route_id)).toEqual(["p"]);
    expect(emptyRoutesHint("all")).toBe("No routes yet. Create one: portcullis route create <path> url <target-url>");
    expect(emptyRoutesHint("global")).toBe("No global routes. Create one: portcullis route create <path> url <target-url> --scope global");
    expect(emptyRoutesHint("proxy")).toContain("--scope proxy --proxies <hostname>");
  });
});

describe("proxy columns", () => {
  test("Status: the listeners serving it, then 'disabled' when it does not serve", () => {
    expect(proxyStatus(proxy())).toBe("HTTP | HTTPS");
    expect(proxyStatus(proxy({ enable_http: false }))).toBe("HTTPS");
    expect(proxyStatus(proxy({ enable_https: false, enabled: false }))).toBe("HTTP | disabled");
    expect(proxyStatus(proxy({ enable_http: false, enable_https: false }))).toBe("");
  });

  test("Summary counts proxies and those with auth", () => {
    expect(proxySummary([proxy(), proxy({ auth_enabled: true })])).toBe("Summary: 2 proxies | 1 with auth");
    expect(proxySummary([proxy()])).toBe("Summary: 1 proxy | 0 with auth");
  });

  test("table and csv rows", () => {
    const rows = [proxy(), proxy({ hostname: "b.example.com", auth_enabled: true, cert_name: "b-cert", enabled: false, route_mode: "none" })];
    const table = renderList(rows, PROXY_COLUMNS, "table", "");
    expect(table).toMatch(/│ Hostname\s+│ Target\s+│ Status\s+│ Auth\s+│ Certificate\s+│ Routes\s+│ Created/);
    expect(table).toMatch(/│ app\.example\.com\s+│ http:\/\/10\.0\.0\.5:3000\/\s+│ HTTP \| HTTPS\s+│ ✗\s+│ —\s+│ all\s+│ 2026-01-10/);
    expect(table).toMatch(/│ b\.example\.com\s+│ .*│ HTTP \| HTTPS \| disabled\s+│ ✓\s+│ b-cert\s+│ none/);
    const csv = renderList(rows, PROXY_COLUMNS, "csv", "").split("\n");
    expect(csv[0]).toBe("Hostname,Target,Status,Auth,Certificate,Routes,Created");
    expect(csv[1]).toBe("app.example.com,http://10.0.0.5:3000/,HTTP | HTTPS,false,,all,2026-01-10T12:00:00.000Z");
  });
});

describe("renderRouteControl", () => {
  const control: RouteControlView = {
    hostname: "app.example.com",
    route_mode: "all",
    enabled_routes: [],
    disabled_routes: ["old", "legacy"],
    effective_routes: [route({ methods: ["GET"] })],
  };

  test("table: mode and lists, then the effective routes", () => {
    const out = renderRouteControl(control, "table");
    expect(out).toMatch(/│ route_mode\s+│ all/);
    expect(out).toMatch(/│ enabled_routes\s+│ —/);
    expect(out).toMatch(/│ disabled_routes\s+│ old, legacy/);
    expect(out).toContain("Effective routes, in evaluation order:");
    expect(out).toMatch(/│ 90\s+│ api\s+│ \/api\/\s+│ GET\s+│ url:http:\/\/10\.0\.0\.7:8080\/\s+│ global\s+│ ✓/);
    expect(renderRouteControl({ ...control, effective_routes: [] }, "table")).toContain(
      "No routes apply to app.example.com: its target_url gets every request.",
    );
  });

  test("json/yaml: the API's object; csv: the effective routes", () => {
    expect(JSON.parse(renderRouteControl(control, "json"))).toEqual(control);
    expect(parseYaml(renderRouteControl(control, "yaml"))).toEqual(control);
    expect(renderRouteControl(control, "csv").split("\n")).toEqual([
      "Priority,ID,Path,Methods,Target,Scope,Enabled,Description",
      "90,api,/api/,GET,url:http://10.0.0.7:8080/,global,true,",
    ]);
  });
});
