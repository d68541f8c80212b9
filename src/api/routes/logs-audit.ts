/**
 * /api/v1/logs/audit — every API write, newest first: who (token name and
 * role), from which address, what (method, path, resource), the status, and
 * the changed fields with secrets redacted. Admin only: it covers every
 * token's writes.
 */
import { Elysia, t } from "elysia";
import type { AuditLog } from "../../consumers/audit/audit-log";
import { forbidden, invalid } from "../../core/errors";
import type { TokenRepository } from "../../storage/token-repository";
import { authenticate } from "../caller";
import { wholeParam } from "./logs-oauth";
import { allows } from "../permissions";

export interface AuditLogRouteDeps {
  readonly audit: AuditLog;
  readonly tokens: TokenRepository;
  /** AUDIT_RETENTION_DAYS: how far back `hours` may reach. */
  readonly retentionDays: number;
}

export const AUDIT_MAX_LIMIT = 1000;

const QUERY = t.Object({
  token: t.Optional(t.String({ minLength: 1, maxLength: 200, description: "Writes made with this token name" })),
  path: t.Optional(t.String({ minLength: 1, maxLength: 500, description: "Exact API path, or a prefix ending in * (/api/v1/proxy/*)" })),
  since: t.Optional(t.String({ description: "From this time on: ISO 8601, or milliseconds since the epoch (overrides hours)" })),
  hours: t.Optional(t.String({ description: "How far back, in hours (default 24)" })),
  limit: t.Optional(t.String({ description: `Entries at most (default 100, at most ${AUDIT_MAX_LIMIT})` })),
});

/** Pure: a `since` parameter as epoch ms. */
export function parseSince(raw: string): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(value) || value < 0) throw invalid(`since: expected an ISO 8601 time or milliseconds since the epoch, got ${JSON.stringify(raw)}`);
  return value;
}

export function auditLogRoutes(deps: AuditLogRouteDeps) {
  return new Elysia({ prefix: "/logs", tags: ["logs"] }).get(
    "/audit",
    async ({ request, query }) => {
      if (!allows(await authenticate(request, deps.tokens), "GET /api/v1/logs/audit")) throw forbidden("the audit log needs the admin token or a viewer token");
      const since = query.since !== undefined ? parseSince(query.since) : Date.now() - wholeParam("hours", query.hours, 24, deps.retentionDays * 24) * 3_600_000;
      const limit = wholeParam("limit", query.limit, 100, AUDIT_MAX_LIMIT);
      const { entries, truncated } = await deps.audit.query({ token: query.token, path: query.path, since, limit });
      return { entries, count: entries.length, truncated };
    },
    {
      query: QUERY,
      detail: {
        summary: "The audit log: every API write, and every read of a secret (admin)",
        description:
          "POST, PUT, PATCH and DELETE under /api/v1, successful or not, newest first: ts, token (name), role, ip, method, path, resource_kind, resource_id, status, error, and the change (changed field names, their values before and after; tokens, client secrets, private keys and passwords are \"[redacted]\"). A read of a proxy's GitHub client secret (GET …/github-oauth/secret) is recorded too, as who read it, with no values. Answers { entries, count, truncated }.",
      },
    },
  );
}
