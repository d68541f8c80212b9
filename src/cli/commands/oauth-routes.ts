/**
 * `oauth routes-setup <domain>`: the global routes (spec "OAuth Routes
 * Configuration") that send the authorization server's paths, on every proxy,
 * to auth.<domain> at priority 95. Optional: a proxy that is a protected
 * resource serves the client-facing ones already (dispatcher/builtin-oauth.ts);
 * these routes add the sign-in pages (/authorize, /callback), /verify, every
 * method, and proxies without auth. Running it again creates nothing: a route
 * already there is reported as present, and a path that another route holds
 * at that priority is reported, never overwritten.
 */
import type { ApiClient } from "../api-client";
import { CliError } from "../cli-error";
import { renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";
import type { RouteView } from "./route";

export const OAUTH_ROUTE_PRIORITY = 95;

/** Each path the authorization server answers, with the route id it gets when that id is free. */
export const OAUTH_ROUTE_PATHS: readonly { readonly path: string; readonly id: string }[] = [
  { path: "/authorize", id: "oauth-authorize" },
  { path: "/token", id: "oauth-token" },
  { path: "/callback", id: "oauth-callback" },
  { path: "/verify", id: "oauth-verify" },
  { path: "/register", id: "oauth-register" },
  { path: "/.well-known/oauth-authorization-server", id: "oauth-metadata" },
  { path: "/jwks", id: "oauth-jwks" },
  { path: "/revoke", id: "oauth-revoke" },
  { path: "/introspect", id: "oauth-introspect" },
];

export type OAuthRouteStatus = "created" | "present" | "disabled" | "conflict" | "failed" | "skipped";

/** One line of the report: what routes-setup found or did for a path. */
export interface OAuthRouteRow {
  path_pattern: string;
  status: OAuthRouteStatus;
  route_id: string | null;
  target: string;
  /** For present-but-disabled and conflicting routes: what to do about it. */
  note: string | null;
}

/** What routes-setup will do for a path: create it (with this body), or report the route already there. */
export type OAuthRoutePlan =
  | { readonly action: "create"; readonly path: string; readonly body: Record<string, unknown> }
  | { readonly action: "keep"; readonly row: OAuthRouteRow };

const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** "Example.COM." → "example.com"; a URL, a path or a wildcard is a CliError saying what is expected. */
export function checkDomain(raw: string): string {
  const domain = raw.trim().toLowerCase().replace(/\.$/, "");
  const expected = `expected the base domain, e.g. example.com (the routes then target auth.example.com)`;
  if (domain.includes("://") || domain.includes("/")) throw new CliError(`oauth routes-setup: ${JSON.stringify(raw)} is not a domain; ${expected}`);
  const labels = domain.split(".");
  if (domain === "" || domain.length > 248 || labels.length < 1 || !labels.every((l) => HOSTNAME_LABEL.test(l))) {
    throw new CliError(`oauth routes-setup: ${JSON.stringify(raw)} is not a domain name; ${expected}`);
  }
  return domain;
}

const describeTarget = (route: Pick<RouteView, "target_type" | "target_value">) => `${route.target_type}:${route.target_value}`;

/**
 * Compares the routes the API has with the ones the domain needs. A route at
 * the same path and priority (the pair the API keeps unique) that targets the
 * auth host globally is the one wanted; any other holds the slot.
 */
export function planOAuthRoutes(domain: string, existing: readonly RouteView[]): OAuthRoutePlan[] {
  const authHost = `auth.${domain}`;
  const target = `hostname:${authHost}`;
  const takenIds = new Set(existing.map((r) => r.route_id));
  return OAUTH_ROUTE_PATHS.map(({ path, id }) => {
    const holder = existing.find((r) => !r.is_regex && r.path_pattern === path && r.priority === OAUTH_ROUTE_PRIORITY);
    if (!holder) {
      const body: Record<string, unknown> = {
        path_pattern: path,
        target_type: "hostname",
        target_value: authHost,
        priority: OAUTH_ROUTE_PRIORITY,
        scope: "global",
        description: `OAuth authorization server (oauth routes-setup ${domain})`,
      };
      // A free readable id; otherwise the API generates one.
      if (!takenIds.has(id)) body.route_id = id;
      return { action: "create", path, body };
    }
    const wanted = holder.target_type === "hostname" && holder.target_value.toLowerCase() === authHost && holder.scope === "global" && holder.methods.length === 0;
    const row = (status: OAuthRouteStatus, note: string | null): OAuthRouteRow => ({
      path_pattern: path,
      status,
      route_id: holder.route_id,
      target: describeTarget(holder),
      note,
    });
    if (!wanted) {
      const how = holder.scope === "global" ? "" : ` (scope ${holder.scope})`;
      const methods = holder.methods.length > 0 ? ` (methods ${holder.methods.join(",")})` : "";
      return {
        action: "keep",
        row: row("conflict", `route ${holder.route_id} holds ${path} at priority ${OAUTH_ROUTE_PRIORITY} for ${describeTarget(holder)}${how}${methods}, not ${target}`),
      };
    }
    if (!holder.enabled) return { action: "keep", row: row("disabled", `enable it: portcullis route update ${holder.route_id} --enable`) };
    return { action: "keep", row: row("present", null) };
  });
}

/**
 * Creates what the plan says, in order. At the first refusal it stops: that
 * path is reported as failed (with the API's message) and the rest as
 * skipped, so the report still says what exists.
 */
export async function applyOAuthRoutes(client: ApiClient, plan: readonly OAuthRoutePlan[]): Promise<{ rows: OAuthRouteRow[]; failure: Error | null }> {
  const rows: OAuthRouteRow[] = [];
  let failure: Error | null = null;
  for (const step of plan) {
    if (step.action === "keep") {
      rows.push(step.row);
      continue;
    }
    const target = `${step.body.target_type}:${step.body.target_value}`;
    if (failure) {
      rows.push({ path_pattern: step.path, status: "skipped", route_id: null, target, note: null });
      continue;
    }
    try {
      const created = await client.post<RouteView>("/api/v1/routes/", step.body);
      rows.push({ path_pattern: created.path_pattern, status: "created", route_id: created.route_id, target: describeTarget(created), note: null });
    } catch (err) {
      failure = err as Error;
      rows.push({ path_pattern: step.path, status: "failed", route_id: null, target, note: failure.message });
    }
  }
  return { rows, failure };
}

export const OAUTH_ROUTE_COLUMNS: Column<OAuthRouteRow>[] = [
  { header: "Path", value: (r) => r.path_pattern },
  { header: "Status", value: (r) => r.status },
  { header: "Route ID", value: (r) => r.route_id },
  { header: "Target", value: (r) => r.target },
  { header: "Note", value: (r) => r.note },
];

/** "Created 9 routes …", "All 9 … already present", with what still needs doing. */
export function routesSummary(domain: string, rows: readonly OAuthRouteRow[]): string {
  const count = (status: OAuthRouteStatus) => rows.filter((r) => r.status === status).length;
  const created = count("created");
  const present = count("present");
  const parts = [`${created} created`, `${present} already present`];
  if (count("disabled") > 0) parts.push(`${count("disabled")} present but disabled`);
  if (count("conflict") > 0) parts.push(`${count("conflict")} held by other routes`);
  if (count("failed") + count("skipped") > 0) parts.push(`${count("failed") + count("skipped")} not created`);
  return `OAuth routes to auth.${domain} at priority ${OAUTH_ROUTE_PRIORITY}: ${parts.join(", ")}.`;
}

export function renderOAuthRoutes(domain: string, rows: readonly OAuthRouteRow[], format: OutputFormat): string {
  const list = renderList(rows, OAUTH_ROUTE_COLUMNS, format, "");
  return format === "table" ? `${list}\n${routesSummary(domain, rows)}` : list;
}

/** Why routes-setup did not finish, as one error after the report; null when every path is routed. */
export function setupError(rows: readonly OAuthRouteRow[], failure: Error | null): CliError | null {
  if (failure) {
    const skipped = rows.filter((r) => r.status === "skipped").length;
    return new CliError(`${failure.message}${skipped > 0 ? ` (${skipped} more not attempted; run routes-setup again once fixed)` : ""}`);
  }
  const conflicts = rows.filter((r) => r.status === "conflict");
  if (conflicts.length === 0) return null;
  return new CliError(
    `${conflicts.length} OAuth ${conflicts.length === 1 ? "path is" : "paths are"} held by other routes: ${conflicts.map((r) => r.note).join("; ")}. ` +
      "Delete or move them (portcullis route delete <id>), then run routes-setup again.",
  );
}

/**
 * Whether the gateway serves its authorization server on auth.<domain>
 * (GET /oauth/status lists its auth hostnames); a warning, or null when it
 * does or the status cannot be read.
 */
export async function authHostWarning(client: ApiClient, domain: string): Promise<string | null> {
  let hostnames: string[];
  try {
    hostnames = (await client.get<{ auth_hostnames?: string[] }>("/api/v1/oauth/status")).auth_hostnames ?? [];
  } catch {
    return null;
  }
  const authHost = `auth.${domain}`;
  if (hostnames.length === 0 || hostnames.map((h) => h.toLowerCase()).includes(authHost)) return null;
  return (
    `Warning: this gateway serves its authorization server on ${hostnames.join(", ")}, not ${authHost}; ` +
    `these routes reach it only if BASE_DOMAIN is ${domain} (or a proxy named ${authHost} exists).`
  );
}
