import { describe, expect, test } from "bun:test";
import { pathOf } from "../../src/core/request-path";
import { buildHostTable } from "../../src/dispatcher/host-table";
import { matchRoute } from "../../src/dispatcher/routes";
import { proxyRecord, routeRecord } from "../helpers/records";

function table(routes = [routeRecord("r")], proxies = [proxyRecord("app.example.com")], services = new Map<string, string>()) {
  return buildHostTable({ proxies, routes, serviceUrls: services });
}

/** Which route (or "proxy") serves method+path on a host. */
function served(t: ReturnType<typeof table>, host: string, method: string, path: string): string {
  const entry = t.lookup(host);
  if (!entry) return "unknown host";
  return matchRoute(entry.routes, method, path)?.id ?? "proxy";
}

describe("host lookup", () => {
  const t = table([], [proxyRecord("app.example.com"), proxyRecord("*.example.com"), proxyRecord("exact.example.com")]);
  test("exact before wildcard", () => {
    expect(t.lookup("app.example.com")?.hostname).toBe("app.example.com");
    expect(t.lookup("other.example.com")?.hostname).toBe("*.example.com");
  });
  test("a wildcard covers one label only, and not the bare domain", () => {
    expect(t.lookup("a.b.example.com")).toBeUndefined();
    expect(t.lookup("example.com")).toBeUndefined();
    expect(t.lookup("example.org")).toBeUndefined();
  });
});

describe("route evaluation", () => {
  test("highest priority first; first match wins; else the proxy's own target", () => {
    const t = table([
      routeRecord("low", { path_pattern: "/api/", priority: 10 }),
      routeRecord("high", { path_pattern: "/api/v1/", priority: 90 }),
      routeRecord("mid", { path_pattern: "/api/", priority: 50 }),
    ]);
    expect(served(t, "app.example.com", "GET", "/api/v1/x")).toBe("high");
    expect(served(t, "app.example.com", "GET", "/api/v2/x")).toBe("mid");
    expect(served(t, "app.example.com", "GET", "/other")).toBe("proxy");
  });

  test("methods filter; empty means every method", () => {
    const t = table([routeRecord("writes", { path_pattern: "/", methods: ["POST", "PUT"], priority: 90 }), routeRecord("all", { priority: 10 })]);
    expect(served(t, "app.example.com", "POST", "/x")).toBe("writes");
    expect(served(t, "app.example.com", "GET", "/x")).toBe("all");
  });

  test("regex routes", () => {
    const t = table([routeRecord("rx", { path_pattern: "^/users/\\d+$", is_regex: true })]);
    expect(served(t, "app.example.com", "GET", "/users/42")).toBe("rx");
    expect(served(t, "app.example.com", "GET", "/users/42/x")).toBe("proxy");
  });

  test("scope: global routes apply everywhere, proxy routes only to their proxies", () => {
    const t = table(
      [routeRecord("global", { priority: 10 }), routeRecord("only-b", { scope: "proxy", proxy_hostnames: ["b.example.com"], priority: 90 })],
      [proxyRecord("a.example.com"), proxyRecord("b.example.com")],
    );
    expect(served(t, "a.example.com", "GET", "/")).toBe("global");
    expect(served(t, "b.example.com", "GET", "/")).toBe("only-b");
  });

  test("disabled routes never match", () => {
    expect(served(table([routeRecord("off", { enabled: false })]), "app.example.com", "GET", "/")).toBe("proxy");
  });

  test("route_mode all | selective | none with enabled_routes / disabled_routes", () => {
    const routes = [routeRecord("one", { priority: 90, path_pattern: "/one" }), routeRecord("two", { priority: 80, path_pattern: "/two" })];
    const proxies = [
      proxyRecord("all.example.com", { route_mode: "all", disabled_routes: ["two"] }),
      proxyRecord("sel.example.com", { route_mode: "selective", enabled_routes: ["two"] }),
      proxyRecord("none.example.com", { route_mode: "none" }),
    ];
    const t = table(routes, proxies);
    expect([served(t, "all.example.com", "GET", "/one"), served(t, "all.example.com", "GET", "/two")]).toEqual(["one", "proxy"]);
    expect([served(t, "sel.example.com", "GET", "/one"), served(t, "sel.example.com", "GET", "/two")]).toEqual(["proxy", "two"]);
    expect([served(t, "none.example.com", "GET", "/one"), served(t, "none.example.com", "GET", "/two")]).toEqual(["proxy", "proxy"]);
  });

  test("service targets resolve through service URLs; an unknown service gives a null target", () => {
    const t = table(
      [routeRecord("svc", { target_type: "service", target_value: "auth", path_pattern: "/auth" }), routeRecord("ghost", { target_type: "service", target_value: "ghost", path_pattern: "/ghost" })],
      undefined,
      new Map([["auth", "http://127.0.0.1:7000"]]),
    );
    const entry = t.lookup("app.example.com")!;
    expect(matchRoute(entry.routes, "GET", "/auth/x")?.target?.url.href).toBe("http://127.0.0.1:7000/");
    expect(matchRoute(entry.routes, "GET", "/ghost")?.target).toBeNull();
    expect(t.problems.some((p) => p.includes('service "ghost" has no URL'))).toBe(true);
  });

  test("a broken stored regex skips that route and keeps the rest serving", () => {
    const t = table([routeRecord("broken", { is_regex: true, path_pattern: "([", priority: 90 }), routeRecord("ok", { priority: 10 })]);
    expect(served(t, "app.example.com", "GET", "/")).toBe("ok");
    expect(t.problems[0]).toContain("route broken");
  });
});

describe("pathOf", () => {
  const cases: [string, string][] = [
    ["http://a.example/x/y?q=1", "/x/y"],
    ["http://a.example/", "/"],
    ["http://a.example", "/"],
    ["http://a.example:8080/p%20q?x=/y", "/p%20q"],
  ];
  for (const [url, path] of cases) test(url, () => expect(pathOf(url)).toBe(path));
});
