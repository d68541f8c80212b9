/**
 * A route names hostnames (its --proxies list, or a `hostname` target) that
 * only do something once a proxy serves them. A typo there is silent, so
 * `route create/update` warn about hostnames no proxy serves.
 */
import type { ApiClient } from "../api-client";

interface NamedHostnames {
  route_id: string;
  scope: string;
  proxy_hostnames: readonly string[];
  target_type: string;
  target_value: string;
}

/** Whether a proxy of `proxies` serves `hostname`: exactly, or by the wildcard one label up (as the edge matches). */
export function served(hostname: string, proxies: ReadonlySet<string>): boolean {
  const name = hostname.toLowerCase();
  if (proxies.has(name)) return true;
  const dot = name.indexOf(".");
  return dot > 0 && proxies.has(`*${name.slice(dot)}`);
}

/** The hostnames the route names that no proxy serves, in the order it names them. */
export function unservedHostnames(route: NamedHostnames, proxies: ReadonlySet<string>): string[] {
  const named = route.scope === "proxy" ? [...route.proxy_hostnames] : [];
  if (route.target_type === "hostname") named.push(route.target_value);
  return [...new Set(named)].filter((hostname) => !served(hostname, proxies));
}

export function unservedWarnings(route: NamedHostnames, proxies: ReadonlySet<string>): string[] {
  return unservedHostnames(route, proxies).map(
    (hostname) =>
      `warning: no proxy serves ${hostname}, so route ${route.route_id} does nothing for it yet (create one: portcullis proxy create ${hostname} <target-url>)`,
  );
}

/** Reads the proxies the caller can see; a failure to read them only skips the warning. */
export async function warnAboutUnservedHostnames(client: ApiClient, route: NamedHostnames, note: (text: string) => void): Promise<void> {
  if (route.scope !== "proxy" && route.target_type !== "hostname") return;
  let proxies: { hostname: string }[];
  try {
    proxies = await client.get<{ hostname: string }[]>("/api/v1/proxy/targets/");
  } catch {
    return;
  }
  for (const warning of unservedWarnings(route, new Set(proxies.map((p) => p.hostname.toLowerCase())))) note(warning);
}
