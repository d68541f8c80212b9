/**
 * Where the gateway's Redis is: its own embedded server (REDIS_URL unset), one
 * server (REDIS_URL), or the master of a Redis Sentinel group
 * (REDIS_SENTINELS + REDIS_SENTINEL_NAME). Pure: a reader in, settings out,
 * problems appended.
 */

export interface SentinelAddress {
  readonly host: string;
  readonly port: number;
}

export type RedisSettings =
  | { readonly mode: "embedded"; readonly serverBinary: string; readonly password?: string }
  | { readonly mode: "external"; readonly url: string; readonly password?: string }
  | {
      readonly mode: "sentinel";
      /** REDIS_SENTINELS: asked in turn for the current master's address. */
      readonly sentinels: readonly SentinelAddress[];
      /** REDIS_SENTINEL_NAME: the master group the sentinels monitor. */
      readonly name: string;
      /** REDIS_SENTINEL_PASSWORD: the sentinels' own password (requirepass in sentinel.conf), if they ask for one. */
      readonly sentinelPassword?: string;
      /** The data servers' credentials and database: from REDIS_URL (host and port ignored), else REDIS_PASSWORD. */
      readonly username?: string;
      readonly password?: string;
      readonly db: number;
    };

interface Reader {
  read(name: string): string | undefined;
}

/** Sentinel's default port, as in its own sentinel.conf. */
export const DEFAULT_SENTINEL_PORT = 26379;

export function parseRedisSettings({ read }: Reader, problems: string[]): RedisSettings {
  const url = read("REDIS_URL");
  const password = read("REDIS_PASSWORD");
  const serverBinary = read("REDIS_SERVER_BIN");
  const sentinels = read("REDIS_SENTINELS");
  const sentinelName = read("REDIS_SENTINEL_NAME");
  const sentinelPassword = read("REDIS_SENTINEL_PASSWORD");

  if (sentinels === undefined) {
    // Set without REDIS_SENTINELS they would be silently ignored: a half-done Sentinel setup is said at start.
    if (sentinelName !== undefined) problems.push("REDIS_SENTINEL_NAME: set only together with REDIS_SENTINELS (the sentinels to ask for the master)");
    if (sentinelPassword !== undefined) problems.push("REDIS_SENTINEL_PASSWORD: set only together with REDIS_SENTINELS");
    if (url === undefined) return { mode: "embedded", serverBinary: serverBinary ?? "redis-server", password };
    checkRedisUrl(url, problems);
    return { mode: "external", url, password };
  }

  const addresses = parseSentinelList(sentinels);
  if (typeof addresses === "string") problems.push(`REDIS_SENTINELS: ${addresses}; expected comma-separated host:port pairs such as 10.0.0.5:26379,10.0.0.6:26379`);
  if (sentinelName === undefined) problems.push("REDIS_SENTINEL_NAME: required with REDIS_SENTINELS; the master group name the sentinels monitor (sentinel monitor <name> …)");
  else if (!/^[A-Za-z0-9._-]{1,64}$/.test(sentinelName)) problems.push(`REDIS_SENTINEL_NAME=${JSON.stringify(sentinelName)}: expected a master group name of letters, digits, '.', '_' or '-'`);

  let username: string | undefined;
  let urlPassword: string | undefined;
  let db = 0;
  if (url !== undefined && checkRedisUrl(url, problems)) {
    const parsed = new URL(url);
    if (parsed.protocol === "rediss:") problems.push("REDIS_URL: rediss:// (TLS) is not supported together with REDIS_SENTINELS; use redis:// for the credentials and database");
    username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
    urlPassword = parsed.password ? decodeURIComponent(parsed.password) : undefined;
    db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  }
  return {
    mode: "sentinel",
    sentinels: typeof addresses === "string" ? [] : addresses,
    name: sentinelName ?? "",
    ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    ...(username !== undefined ? { username } : {}),
    ...((urlPassword ?? password) !== undefined ? { password: urlPassword ?? password } : {}),
    db,
  };
}

/** Appends what is wrong with a REDIS_URL; true when it can be used. */
function checkRedisUrl(url: string, problems: string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    problems.push("REDIS_URL: expected redis://[:password@]host[:port][/db] or rediss://… for TLS");
    return false;
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    problems.push(`REDIS_URL: scheme ${JSON.stringify(parsed.protocol)} is not supported; expected redis:// or rediss://`);
  } else if (!parsed.hostname) {
    problems.push("REDIS_URL: expected a host, as in redis://:password@127.0.0.1:6379/0");
  } else if (parsed.pathname.length > 1 && !/^\/\d{1,2}$/.test(parsed.pathname)) {
    problems.push("REDIS_URL: the path must be a database index such as /0");
  } else {
    return true;
  }
  return false;
}

/**
 * `host:port[,host:port…]`; the port may be left out (26379), an IPv6 address
 * is bracketed ([::1]:26379). A string says what is wrong.
 */
export function parseSentinelList(value: string): SentinelAddress[] | string {
  const found: SentinelAddress[] = [];
  for (const raw of value.split(",")) {
    const item = raw.trim();
    if (!item) continue;
    const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::(\d{1,5}))?$/.exec(item);
    if (!match) return `${JSON.stringify(item)} is not host:port`;
    const port = match[3] === undefined ? DEFAULT_SENTINEL_PORT : Number(match[3]);
    if (port < 1 || port > 65535) return `${JSON.stringify(item)}: port ${port} is outside 1-65535`;
    const host = (match[1] ?? match[2])!;
    if (!found.some((s) => s.host === host && s.port === port)) found.push({ host, port });
  }
  if (found.length === 0) return "no sentinel address given";
  return found;
}
