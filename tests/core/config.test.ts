import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/core/config";
import { configProblems as problemsOf } from "../helpers/config-problems";


describe("parseConfig", () => {
  test("defaults", () => {
    const config = parseConfig({}, "/srv");
    expect(config).toMatchObject({
      httpPort: 80,
      httpsPort: 443,
      apiPort: 9000,
      apiBind: "127.0.0.1",
      serverHost: "0.0.0.0",
      logLevel: "info",
      dataDir: "/srv/data",
      baseDomain: "localhost",
      apiHostnames: [],
      redis: { mode: "embedded", serverBinary: "redis-server" },
      proxyConnectTimeoutMs: 30_000,
      proxyRequestTimeoutMs: 120_000,
    });
    expect(config.trustedProxies.contains("127.0.0.1")).toBe(false);
    expect(Object.isFrozen(config)).toBe(true);
  });

  test("reads every variable", () => {
    const config = parseConfig(
      {
        HTTP_PORT: "8080",
        HTTPS_PORT: "8443",
        API_PORT: "9100",
        API_BIND: "0.0.0.0",
        SERVER_HOST: "::",
        LOG_LEVEL: "warning",
        PORTCULLIS_DATA_DIR: "/var/lib/portcullis",
        REDIS_URL: "rediss://:pw@redis.internal:6380/2",
        ADMIN_TOKEN: "acm_" + "a".repeat(64),
        ADMIN_EMAIL: "ops@example.com",
        BASE_DOMAIN: "Example.COM",
        API_HOSTNAME: "api.example.com, admin.example.com",
      },
      "/srv",
    );
    expect(config).toMatchObject({
      httpPort: 8080,
      httpsPort: 8443,
      apiPort: 9100,
      apiBind: "0.0.0.0",
      serverHost: "::",
      logLevel: "warn",
      dataDir: "/var/lib/portcullis",
      redis: { mode: "external", url: "rediss://:pw@redis.internal:6380/2" },
      adminEmail: "ops@example.com",
      baseDomain: "example.com",
      apiHostnames: ["api.example.com", "admin.example.com"],
    });
  });

  test("the API answers on public listeners only for API_HOSTNAME, and only to API_ALLOWED_CIDRS (default loopback)", () => {
    const defaults = parseConfig({});
    expect(defaults.apiHostnames).toEqual([]);
    expect(defaults.apiAllowedCidrs.contains("127.0.0.1")).toBe(true);
    expect(defaults.apiAllowedCidrs.contains("::1")).toBe(true);
    expect(defaults.apiAllowedCidrs.contains("10.0.0.1")).toBe(false);
    const office = parseConfig({ API_HOSTNAME: "api.example.com", API_ALLOWED_CIDRS: "192.0.2.0/24" });
    expect(office.apiAllowedCidrs.contains("192.0.2.7")).toBe(true);
    expect(office.apiAllowedCidrs.contains("127.0.0.1")).toBe(false);
    expect(() => parseConfig({ API_ALLOWED_CIDRS: "everyone" })).toThrow(/API_ALLOWED_CIDRS/);
  });

  test("forwarding settings", () => {
    const config = parseConfig({ PROXY_CONNECT_TIMEOUT: "2.5", PROXY_REQUEST_TIMEOUT: "60", TRUSTED_PROXY_CIDRS: "10.0.0.0/8, ::1" });
    expect(config.proxyConnectTimeoutMs).toBe(2500);
    expect(config.proxyRequestTimeoutMs).toBe(60_000);
    expect(config.trustedProxies.contains("10.1.2.3")).toBe(true);
    expect(config.trustedProxies.contains("::ffff:10.9.9.9")).toBe(true);
    expect(config.trustedProxies.contains("::1")).toBe(true);
    expect(config.trustedProxies.contains("11.0.0.1")).toBe(false);
  });

  test("HTTP_ENGINE: raw unless serve is asked for", () => {
    expect(parseConfig({}).httpEngine).toBe("raw");
    expect(parseConfig({ HTTP_ENGINE: "serve" }).httpEngine).toBe("serve");
    expect(parseConfig({ HTTP_ENGINE: "raw" }).httpEngine).toBe("raw");
  });

  test("TLS and PROXY protocol settings", () => {
    const defaults = parseConfig({});
    expect(defaults).toMatchObject({ selfSignedCn: "localhost", selfSignedDays: 365, proxyProtocolPort: 10001, httpProxyProtocol: false, httpsProxyProtocol: false });
    expect(defaults.proxyProtocolTrusted.contains("127.0.0.1")).toBe(true);
    expect(defaults.proxyProtocolTrusted.contains("::1")).toBe(true);
    expect(defaults.proxyProtocolTrusted.contains("10.0.0.1")).toBe(false);
    const set = parseConfig({ SELF_SIGNED_CN: "Gateway.Example.com", SELF_SIGNED_DAYS: "30", PROXY_PROTOCOL_PORT: "0", HTTP_PROXY_PROTOCOL: "true", HTTPS_PROXY_PROTOCOL: "yes", PROXY_PROTOCOL_TRUSTED_CIDRS: "10.0.0.0/8" });
    expect(set).toMatchObject({ selfSignedCn: "gateway.example.com", selfSignedDays: 30, proxyProtocolPort: null, httpProxyProtocol: true, httpsProxyProtocol: true });
    expect(set.proxyProtocolTrusted.contains("10.2.3.4")).toBe(true);
    expect(set.proxyProtocolTrusted.contains("127.0.0.1")).toBe(false);
  });

  test("0 or any binds any free port; PROXY_PROTOCOL_PORT keeps 0 for off", () => {
    const any = parseConfig({ HTTP_PORT: "0", HTTPS_PORT: "any", API_PORT: "ANY", PROXY_PROTOCOL_PORT: "any" });
    expect(any).toMatchObject({ httpPort: 0, httpsPort: 0, apiPort: 0, proxyProtocolPort: 0 });
    expect(parseConfig({ PROXY_PROTOCOL_PORT: "00" }).proxyProtocolPort).toBeNull();
    expect(parseConfig({ PROXY_PROTOCOL_PORT: "10002" }).proxyProtocolPort).toBe(10002);
    expect(() => parseConfig({ PROXY_PROTOCOL_PORT: "anywhere" })).toThrow('PROXY_PROTOCOL_PORT="anywhere": expected a port number from 0 to 65535, or any');
  });

  test("METRICS_PORT: off unless set (0 is off too), any for a free port; METRICS_BIND defaults to API_BIND", () => {
    expect(parseConfig({})).toMatchObject({ metricsPort: null, metricsBind: "127.0.0.1" });
    expect(parseConfig({ METRICS_PORT: "0" }).metricsPort).toBeNull();
    expect(parseConfig({ METRICS_PORT: "any" }).metricsPort).toBe(0);
    expect(parseConfig({ METRICS_PORT: "9464", API_BIND: "10.0.0.5" })).toMatchObject({ metricsPort: 9464, metricsBind: "10.0.0.5" });
    expect(parseConfig({ METRICS_PORT: "9464", METRICS_BIND: "0.0.0.0" }).metricsBind).toBe("0.0.0.0");
    expect(() => parseConfig({ METRICS_PORT: "metrics" })).toThrow('METRICS_PORT="metrics": expected a port number from 0 to 65535, or any');
    expect(() => parseConfig({ METRICS_PORT: "9000" })).toThrow("METRICS_PORT=9000: already used by API_PORT; choose another port");
    expect(() => parseConfig({ METRICS_PORT: "8080", HTTP_PORT: "8080" })).toThrow("METRICS_PORT=8080: already used by HTTP_PORT");
    expect(() => parseConfig({ METRICS_PORT: "9464", METRICS_BIND: "not a host" })).toThrow('METRICS_BIND="not a host": expected an IP address or hostname to bind');
  });

  test("the spec's level names map to logger levels", () => {
    const levels = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].map((l) => parseConfig({ LOG_LEVEL: l }).logLevel);
    expect(levels).toEqual(["debug", "info", "warn", "error", "fatal"]);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["non-numeric port", { HTTP_PORT: "eighty" }, /^HTTP_PORT="eighty": expected a port number/],
    ["port out of range", { API_PORT: "70000" }, /^API_PORT="70000": expected a port number/],
    ["negative port", { HTTPS_PORT: "-1" }, /^HTTPS_PORT/],
    ["unknown log level", { LOG_LEVEL: "LOUD" }, /^LOG_LEVEL="LOUD": expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL/],
    ["malformed REDIS_URL", { REDIS_URL: "not a url" }, /^REDIS_URL: expected redis:\/\//],
    ["wrong REDIS_URL scheme", { REDIS_URL: "http://localhost:6379" }, /^REDIS_URL: scheme "http:"/],
    ["REDIS_URL with a bad db", { REDIS_URL: "redis://localhost:6379/abc" }, /^REDIS_URL: the path must be a database index/],
    ["short ADMIN_TOKEN", { ADMIN_TOKEN: "short" }, /^ADMIN_TOKEN: expected at least 24 characters/],
    ["bad ADMIN_EMAIL", { ADMIN_EMAIL: "nobody" }, /^ADMIN_EMAIL="nobody": expected an email address/],
    ["zero timeout", { PROXY_CONNECT_TIMEOUT: "0" }, /^PROXY_CONNECT_TIMEOUT="0": expected a number of seconds greater than 0/],
    ["non-numeric timeout", { PROXY_REQUEST_TIMEOUT: "2m" }, /^PROXY_REQUEST_TIMEOUT="2m": expected a number of seconds/],
    ["bad trusted range", { TRUSTED_PROXY_CIDRS: "10.0.0.0/33" }, /^TRUSTED_PROXY_CIDRS: "10.0.0.0\/33": the prefix length must be 0 to 32/],
    ["trusted garbage", { TRUSTED_PROXY_CIDRS: "lb.internal" }, /^TRUSTED_PROXY_CIDRS: "lb.internal" is not an IPv4 or IPv6 address/],
    ["unknown HTTP_ENGINE", { HTTP_ENGINE: "nginx" }, /^HTTP_ENGINE="nginx": expected raw \(the raw-socket edge, the default\) or serve/],
    ["bad boolean", { HTTP_PROXY_PROTOCOL: "maybe" }, /^HTTP_PROXY_PROTOCOL="maybe": expected true or false/],
    ["bad SELF_SIGNED_DAYS", { SELF_SIGNED_DAYS: "0" }, /^SELF_SIGNED_DAYS="0": expected whole days/],
    ["bad SELF_SIGNED_CN", { SELF_SIGNED_CN: "not a name" }, /^SELF_SIGNED_CN/],
    ["bad PROXY_PROTOCOL_TRUSTED_CIDRS", { PROXY_PROTOCOL_TRUSTED_CIDRS: "nope" }, /^PROXY_PROTOCOL_TRUSTED_CIDRS: "nope" is not/],
    ["bad API_HOSTNAME", { API_HOSTNAME: "bad_host!" }, /^API_HOSTNAME: "bad_host!" is not a hostname/],
  ];
  for (const [name, env, expected] of bad) {
    test(`rejects ${name}`, () => {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(expected);
    });
  }

  test("reports every bad variable at once", () => {
    expect(problemsOf({ HTTP_PORT: "x", API_PORT: "y", LOG_LEVEL: "z" }).map((p) => p.split("=")[0])).toEqual([
      "LOG_LEVEL",
      "HTTP_PORT",
      "API_PORT",
    ]);
  });

  test("never echoes the ADMIN_TOKEN value", () => {
    const secret = "short-secret";
    expect(problemsOf({ ADMIN_TOKEN: secret }).join()).not.toContain(secret);
  });
});

describe("portcullis serve with a bad environment", () => {
  test("exits 2 naming the variable and the expected form", async () => {
    const child = Bun.spawn(["bun", "src/main.ts", "serve"], {
      env: { ...process.env, HTTP_PORT: "http", LOG_LEVEL: "chatty", REDIS_URL: "" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr).toContain('HTTP_PORT="http": expected a port number from 0 to 65535');
    expect(stderr).toContain('LOG_LEVEL="chatty": expected one of DEBUG');
  });
});
