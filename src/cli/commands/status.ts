/**
 * `portcullis status`: the gateway at a glance — health, the nodes when the
 * gateway reports them, how many proxies/routes/tokens/services the caller
 * can see, and certificates by expiry, soonest first.
 */
import type { Command } from "commander";
import { stringify as toYaml } from "yaml";
import { ApiError } from "../api-client";
import type { CommandContext } from "../context";
import { renderList, type Column } from "../output";
import { expiresIn } from "../relative-time";
import type { OutputFormat } from "../settings";

interface HealthView {
  status: string;
  redis?: string;
  version?: string;
  uptime_seconds?: number;
  nodes?: unknown[];
}

interface CertificateRow {
  cert_name: string;
  domains: string[];
  status: string;
  expires_at: string | null;
}

export interface StatusView {
  health: HealthView;
  /** null when they cannot be read (Redis unreachable). */
  /** `tokens` is null for a cluster API key, which may not list tokens. */
  counts: { proxies: number; routes: number; tokens: number | null; services: number; certificates: number } | null;
  certificates: CertificateRow[];
}

/** Soonest expiry first; certificates without one (pending, failed) last, by name. */
export function byExpiry(certificates: readonly CertificateRow[]): CertificateRow[] {
  const at = (c: CertificateRow) => (c.expires_at ? Date.parse(c.expires_at) : Number.POSITIVE_INFINITY);
  return [...certificates].sort((a, b) => at(a) - at(b) || a.cert_name.localeCompare(b.cert_name));
}

const CERTIFICATE_COLUMNS: Column<CertificateRow>[] = [
  { header: "Certificate", value: (c) => c.cert_name },
  { header: "Domains", value: (c) => c.domains.join(", ") },
  { header: "Status", value: (c) => c.status },
  { header: "Expires", value: (c) => c.expires_at, kind: "expiry" },
];

function uptime(seconds: number | undefined): string {
  if (seconds === undefined) return "";
  const units: [number, string][] = [[86_400, "d"], [3_600, "h"], [60, "m"]];
  for (const [size, unit] of units) if (seconds >= size) return `, up ${Math.floor(seconds / size)}${unit}`;
  return `, up ${seconds}s`;
}

function nodeName(node: unknown): string {
  if (typeof node === "string") return node;
  const n = node as { node_id?: string; id?: string; name?: string };
  return n?.node_id ?? n?.id ?? n?.name ?? JSON.stringify(node);
}

export function renderStatus(view: StatusView, format: OutputFormat): string {
  if (format === "json") return JSON.stringify(view, null, 2);
  if (format === "yaml") return toYaml(view).trimEnd();
  // csv has no shape for the nested view: the certificates, the list a script most likely wants.
  if (format === "csv") return renderList(view.certificates, CERTIFICATE_COLUMNS, "csv", "");
  const { health, counts } = view;
  const soonest = view.certificates.find((c) => c.expires_at);
  const lines = [
    `Gateway:      ${health.status}${health.redis ? ` (redis ${health.redis})` : ""}${health.version ? `, version ${health.version}` : ""}${uptime(health.uptime_seconds)}`,
  ];
  if (health.nodes) lines.push(`Nodes:        ${health.nodes.length} (${health.nodes.map(nodeName).join(", ")})`);
  if (!counts) return [...lines, "Counts:       unknown while Redis is unreachable"].join("\n");
  lines.push(
    `Proxies:      ${counts.proxies}`,
    `Routes:       ${counts.routes}`,
    `Tokens:       ${counts.tokens ?? "— (a cluster key sees no tokens)"}`,
    `Services:     ${counts.services}`,
    `Certificates: ${counts.certificates}${soonest ? ` (soonest: ${soonest.cert_name}, ${expiresIn(soonest.expires_at)})` : ""}`,
  );
  if (view.certificates.length > 0) lines.push(renderList(view.certificates, CERTIFICATE_COLUMNS, "table", ""));
  return lines.join("\n");
}

export function registerStatusCommand(program: Command, context: CommandContext): void {
  program
    .command("status")
    .description("The gateway at a glance: health, nodes, counts of what you can see, certificates by expiry")
    .action(async () => {
      const { client, settings, print } = context();
      let health: HealthView;
      try {
        health = await client.get<HealthView>("/health");
      } catch (err) {
        // /health answers 503 while Redis is unreachable: that is the status, and nothing else can be counted.
        if (err instanceof ApiError && err.status === 503) {
          print(renderStatus({ health: { status: "degraded", redis: "unreachable" }, counts: null, certificates: [] }, settings.format));
          throw new ApiError("the gateway is degraded: Redis is unreachable", 503, "unavailable");
        }
        throw err;
      }
      const [proxies, routes, tokens, services, certificates] = await Promise.all([
        client.get<unknown[]>("/api/v1/proxy/targets/"),
        client.get<unknown[]>("/api/v1/routes/"),
        // A cluster key is refused /tokens (403): it has no tokens to count.
        client.get<unknown[]>("/api/v1/tokens/").catch((err) => {
          if (err instanceof ApiError && err.status === 403) return null;
          throw err;
        }),
        client.get<{ service_type: string }[]>("/api/v1/services/unified"),
        client.get<CertificateRow[]>("/api/v1/certificates/"),
      ]);
      const view: StatusView = {
        health,
        counts: {
          proxies: proxies.length,
          routes: routes.length,
          tokens: tokens ? tokens.length : null,
          // The gateway's own internal services (api, …) are always there: count what someone set up.
          services: services.filter((s) => s.service_type !== "internal").length,
          certificates: certificates.length,
        },
        certificates: byExpiry(certificates).map(({ cert_name, domains, status, expires_at }) => ({ cert_name, domains, status, expires_at })),
      };
      print(renderStatus(view, settings.format));
    });
}
