/**
 * The gateway's static settings, read once from the environment.
 *
 * `parseConfig` is pure: an env object in, a frozen `Config` or a `ConfigError`
 * listing every bad variable out. Nothing else in src/ reads `process.env`.
 */
import { resolve } from "node:path";
import { parseCidrList, type CidrList } from "../proxies/cidr";
import { parseCertificateSettings, type CertificateSettings } from "./certificate-config";
import { parseOAuthSettings, type OAuthSettings } from "./oauth-config";
import { parseObservabilitySettings, type ObservabilitySettings } from "./observability-config";
import { parseDockerSettings, type DockerSettings } from "./docker-config";
import { parseClusterSettings, type ClusterSettings } from "./cluster-config";
import { parseRedisSettings, type RedisSettings } from "./redis-config";
import { parseWorkers } from "./workers-config";
import { parseWorkflowSettings, type WorkflowSettings } from "./workflow-config";

export type LogLevel = "debug" | "info" | "warn" | "error" | "fatal";

export type { RedisSettings } from "./redis-config";

export interface Config {
  readonly serverHost: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly apiPort: number;
  readonly apiBind: string;
  /** METRICS_PORT: a listener serving only GET /metrics; null when off (unset or 0), 0 for any free port (any). */
  readonly metricsPort: number | null;
  /** METRICS_BIND: its bind address (default API_BIND). */
  readonly metricsBind: string;
  /** API_HOSTNAME: hostnames the edge listeners hand to the API; none by default (the API answers on API_PORT). */
  readonly apiHostnames: readonly string[];
  /** API_ALLOWED_CIDRS: clients the edge listeners let reach an API hostname (default loopback). */
  readonly apiAllowedCidrs: CidrList;
  readonly logLevel: LogLevel;
  readonly dataDir: string;
  readonly redis: RedisSettings;
  readonly adminToken?: string;
  readonly adminEmail?: string;
  readonly baseDomain: string;
  /** PROXY_CONNECT_TIMEOUT: backend connect limit. */
  readonly proxyConnectTimeoutMs: number;
  /** PROXY_REQUEST_TIMEOUT: limit until the backend's response head arrives. */
  readonly proxyRequestTimeoutMs: number;
  /** CLIENT_IDLE_TIMEOUT: seconds an idle client connection (keep-alive, stalled stream) stays open. */
  readonly clientIdleTimeoutSeconds: number;
  /** SELF_SIGNED_CN: common name of the default certificate for hostnames without one. */
  readonly selfSignedCn: string;
  /** SELF_SIGNED_DAYS: validity of that certificate. */
  readonly selfSignedDays: number;
  /**
   * PROXY_PROTOCOL_PORT: listener that requires a PROXY protocol v1/v2 header;
   * null when it is off (PROXY_PROTOCOL_PORT=0), 0 for any free port (=any).
   */
  readonly proxyProtocolPort: number | null;
  /** HTTP_PROXY_PROTOCOL / HTTPS_PROXY_PROTOCOL: require the header on HTTP_PORT / HTTPS_PORT. */
  readonly httpProxyProtocol: boolean;
  /**
   * HTTP_ENGINE: what serves plain HTTP (HTTP_PORT, PROXY_PROTOCOL_PORT):
   * `raw`, the raw-socket edge with its fast lane (dispatcher/raw-edge), or
   * `serve`, Bun.serve for every request.
   */
  readonly httpEngine: "raw" | "serve";
  readonly httpsProxyProtocol: boolean;
  /** PROXY_PROTOCOL_TRUSTED_CIDRS: peers allowed to send a PROXY protocol header. */
  readonly proxyProtocolTrusted: CidrList;
  /** PROXY_PROTOCOL_TIMEOUT: time for a PROXY protocol header to arrive complete. */
  readonly proxyProtocolTimeoutMs: number;
  /** TRUSTED_PROXY_CIDRS: peers whose X-Forwarded-* headers are extended rather than replaced. */
  readonly trustedProxies: CidrList;
  /** ACME, renewal and certificate worker settings. */
  readonly certificates: CertificateSettings;
  /** The OAuth authorization server and its upstream identity providers. */
  readonly oauth: OAuthSettings;
  /** Request log, access log and node identity. */
  readonly observability: ObservabilitySettings;
  /** DOCKER_HOST and DOCKER_API_VERSION: the engine that runs Docker services. */
  readonly docker: DockerSettings;
  /** CLUSTER_NAME, CLUSTER_API_KEY, and the cluster registry's heartbeat, down and forget thresholds. */
  readonly cluster: ClusterSettings;
  /** PORTCULLIS_WORKERS: worker processes under a supervisor (auto resolved to the core count); 0: none, this process serves. */
  readonly workers: number;
  /** The workflow consumer: claim timeout, attempts before dead-lettering, forgetting consumers that left. */
  readonly workflow: WorkflowSettings;
}

/** One or more environment variables hold values the gateway cannot use. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** The spec names Python's levels; accept those and the usual short forms. */
const LOG_LEVELS: Record<string, LogLevel> = {
  debug: "debug",
  info: "info",
  warning: "warn",
  warn: "warn",
  error: "error",
  critical: "fatal",
  fatal: "fatal",
};

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

type Env = Readonly<Record<string, string | undefined>>;

export function parseConfig(env: Env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };

  // 0 (or `any`) asks the kernel for any free port; the gateway logs the ports it got.
  const port = (name: string, fallback: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (raw.toLowerCase() === "any") return 0;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value > 65535) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a port number from 0 to 65535, or any`);
      return fallback;
    }
    return value;
  };
  // PROXY_PROTOCOL_PORT=0 has always meant "off", so only `any` picks a free port there.
  const optionalPort = (name: string, fallback: number): number | null => {
    const raw = read(name);
    return raw !== undefined && /^0+$/.test(raw) ? null : port(name, fallback);
  };

  const host = (name: string, fallback: string): string => {
    const raw = read(name) ?? fallback;
    if (!/^[0-9a-zA-Z.:\-[\]]+$/.test(raw)) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an IP address or hostname to bind`);
    }
    return raw;
  };

  const rawLevel = read("LOG_LEVEL") ?? "INFO";
  const logLevel = LOG_LEVELS[rawLevel.toLowerCase()];
  if (!logLevel) {
    problems.push(`LOG_LEVEL=${JSON.stringify(rawLevel)}: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL`);
  }

  const apiHostnames: string[] = [];
  for (const name of (read("API_HOSTNAME") ?? "").split(",").map((h) => h.trim().toLowerCase())) {
    if (!name) continue;
    if (!HOSTNAME.test(name)) problems.push(`API_HOSTNAME: ${JSON.stringify(name)} is not a hostname`);
    else if (!apiHostnames.includes(name)) apiHostnames.push(name);
  }

  const baseDomain = (read("BASE_DOMAIN") ?? "localhost").toLowerCase();
  if (!HOSTNAME.test(baseDomain)) problems.push(`BASE_DOMAIN=${JSON.stringify(baseDomain)}: expected a domain name`);

  const adminToken = read("ADMIN_TOKEN");
  if (adminToken !== undefined && (adminToken.length < 24 || /\s/.test(adminToken))) {
    problems.push("ADMIN_TOKEN: expected at least 24 characters without spaces (leave it unset to have one generated)");
  }

  const adminEmail = read("ADMIN_EMAIL");
  if (adminEmail !== undefined && !isEmail(adminEmail)) {
    problems.push(`ADMIN_EMAIL=${JSON.stringify(adminEmail)}: expected an email address`);
  }

  const seconds = (name: string, fallback: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback * 1000;
    const value = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || value <= 0 || value > 86_400) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a number of seconds greater than 0 (at most 86400)`);
      return fallback * 1000;
    }
    return Math.round(value * 1000);
  };

  // Bun's idle timeout is whole seconds up to 255.
  const idleSeconds = (name: string, fallback: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 255) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected whole seconds from 1 to 255`);
      return fallback;
    }
    return Number(raw);
  };

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = ({ true: true, "1": true, yes: true, false: false, "0": false, no: false } as Record<string, boolean>)[raw.toLowerCase()];
    if (value === undefined) problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return value ?? fallback;
  };

  const ppTrusted = parseCidrList(read("PROXY_PROTOCOL_TRUSTED_CIDRS") ?? "127.0.0.0/8,::1/128");
  if (!ppTrusted.ok) problems.push(`PROXY_PROTOCOL_TRUSTED_CIDRS: ${ppTrusted.error}; expected comma-separated addresses or ranges`);
  const selfSignedDays = Number(read("SELF_SIGNED_DAYS") ?? "365");
  if (!Number.isInteger(selfSignedDays) || selfSignedDays < 1 || selfSignedDays > 3650) {
    problems.push(`SELF_SIGNED_DAYS=${JSON.stringify(read("SELF_SIGNED_DAYS"))}: expected whole days from 1 to 3650`);
  }
  const selfSignedCn = (read("SELF_SIGNED_CN") ?? "localhost").toLowerCase();
  if (!HOSTNAME.test(selfSignedCn)) problems.push(`SELF_SIGNED_CN=${JSON.stringify(selfSignedCn)}: expected a hostname`);
  const tlsSettings = {
    selfSignedCn,
    selfSignedDays,
    proxyProtocolPort: optionalPort("PROXY_PROTOCOL_PORT", 10001),
    httpProxyProtocol: bool("HTTP_PROXY_PROTOCOL", false),
    httpsProxyProtocol: bool("HTTPS_PROXY_PROTOCOL", false),
    proxyProtocolTimeoutMs: seconds("PROXY_PROTOCOL_TIMEOUT", 5),
  };

  const apiAllowed = parseCidrList(read("API_ALLOWED_CIDRS") ?? "127.0.0.0/8,::1/128");
  if (!apiAllowed.ok) problems.push(`API_ALLOWED_CIDRS: ${apiAllowed.error}; expected comma-separated addresses or ranges like 10.0.0.0/8, ::1`);
  const trusted = parseCidrList(read("TRUSTED_PROXY_CIDRS") ?? "");
  if (!trusted.ok) problems.push(`TRUSTED_PROXY_CIDRS: ${trusted.error}; expected comma-separated addresses or ranges like 10.0.0.0/8, ::1`);
  const forwarding = {
    proxyConnectTimeoutMs: seconds("PROXY_CONNECT_TIMEOUT", 30),
    proxyRequestTimeoutMs: seconds("PROXY_REQUEST_TIMEOUT", 120),
    clientIdleTimeoutSeconds: idleSeconds("CLIENT_IDLE_TIMEOUT", 120),
    httpEngine: httpEngine(read("HTTP_ENGINE"), problems),
  };

  const certificates = parseCertificateSettings({ read, bool }, problems);
  const oauth = parseOAuthSettings({ read, bool }, baseDomain, problems);
  const observability = parseObservabilitySettings({ read, bool }, problems);
  const docker = parseDockerSettings({ read }, problems);
  const cluster = parseClusterSettings({ read }, problems);
  const workers = parseWorkers(read("PORTCULLIS_WORKERS"), problems);
  const workflow = parseWorkflowSettings({ read }, problems);

  const redis = parseRedisSettings({ read }, problems);
  const listeners = {
    serverHost: host("SERVER_HOST", "0.0.0.0"),
    httpPort: port("HTTP_PORT", 80),
    httpsPort: port("HTTPS_PORT", 443),
    apiPort: port("API_PORT", 9000),
    apiBind: host("API_BIND", "127.0.0.1"),
  };
  // Off unless set: most setups scrape /metrics on API_PORT.
  const metrics = {
    metricsPort: read("METRICS_PORT") === undefined ? null : optionalPort("METRICS_PORT", 0),
    metricsBind: host("METRICS_BIND", listeners.apiBind),
  };
  problems.push(
    ...sharedPorts([
      ["HTTP_PORT", listeners.httpPort],
      ["HTTPS_PORT", listeners.httpsPort],
      ["API_PORT", listeners.apiPort],
      ["PROXY_PROTOCOL_PORT", tlsSettings.proxyProtocolPort],
      ["METRICS_PORT", metrics.metricsPort],
    ]),
  );

  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    ...listeners,
    ...metrics,
    ...forwarding,
    ...tlsSettings,
    proxyProtocolTrusted: (ppTrusted as { list: CidrList }).list,
    trustedProxies: (trusted as { list: CidrList }).list,
    apiAllowedCidrs: (apiAllowed as { list: CidrList }).list,
    apiHostnames: Object.freeze(apiHostnames),
    logLevel: logLevel!,
    dataDir: resolve(cwd, read("PORTCULLIS_DATA_DIR") ?? "data"),
    redis: Object.freeze(redis),
    certificates: Object.freeze(certificates),
    oauth: Object.freeze(oauth),
    observability: Object.freeze(observability),
    docker: Object.freeze(docker),
    cluster: Object.freeze(cluster),
    workers,
    workflow: Object.freeze(workflow),
    adminToken,
    adminEmail,
    baseDomain,
  });
}

/**
 * Two listeners on one port: the second bind would fail at start with
 * EADDRINUSE, after Redis and the rest are up. Said here instead, with the
 * other config errors. 0 (any free port) and off (null) never collide.
 */
export function sharedPorts(ports: readonly (readonly [string, number | null])[]): string[] {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const [name, port] of ports) {
    if (!port) continue;
    const earlier = seen.get(port);
    if (earlier) problems.push(`${name}=${port}: already used by ${earlier}; choose another port`);
    else seen.set(port, name);
  }
  return problems;
}

/** A lower-case DNS name (no port, no trailing dot). */
export function isHostname(value: string): boolean {
  return HOSTNAME.test(value);
}

export function isEmail(value: string): boolean {
  return value.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

function httpEngine(raw: string | undefined, problems: string[]): "raw" | "serve" {
  if (raw === undefined || raw === "raw") return "raw";
  if (raw === "serve") return "serve";
  problems.push(`HTTP_ENGINE=${JSON.stringify(raw)}: expected raw (the raw-socket edge, the default) or serve (Bun.serve)`);
  return "raw";
}
