/**
 * One audit entry per API write: who (token name and role), from where, what
 * (method, path, resource kind and id), how it ended (status), and a summary
 * of the change. Pure: the summary is built from plain objects, with every
 * secret replaced by "[redacted]" before anything is stored.
 */

export interface AuditEntry {
  /** ISO 8601, milliseconds. */
  readonly ts: string;
  /** The calling token's name. */
  readonly token: string;
  /** The token's role, or "cluster" for a cluster API key (entries written before the rename say "user": a service-owner). */
  readonly role: string;
  readonly ip: string | null;
  readonly request_id: string | null;
  readonly method: string;
  readonly path: string;
  readonly resource_kind: string;
  readonly resource_id: string | null;
  readonly status: number;
  /** Fields the write set or changed (top-level names). */
  readonly changed: readonly string[];
  /** Their values before (updates and deletes, where the record could be read); secrets redacted. */
  readonly before: Readonly<Record<string, unknown>> | null;
  /** Their values after (or what the request asked for); secrets redacted. */
  readonly after: Readonly<Record<string, unknown>> | null;
  /** The error code of a failed write. */
  readonly error: string | null;
}

export const REDACTED = "[redacted]";

/** Field names that hold secrets: tokens, client secrets, passwords, private keys. */
const SECRET_NAME = /(^|_)(token|secret|client_secret|password|passphrase|private_key|private_key_pem|key_pem|api_key|access_token|refresh_token|registration_access_token|code_verifier|client_secret_hash|registration_access_token_hash)$/i;
/** Values that are secrets whatever their field: API tokens and PEM private keys. */
const SECRET_VALUE = /^acm_|-----BEGIN [A-Z ]*PRIVATE KEY-----/;

const MAX_STRING = 200;
const MAX_KEYS = 50;
const MAX_DEPTH = 4;

/** A copy safe to store: secret fields and values redacted, long strings and big objects cut. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    if (SECRET_VALUE.test(value)) return REDACTED;
    return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  }
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "…";
  if (Array.isArray(value)) return value.slice(0, MAX_KEYS).map((item) => redact(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value).slice(0, MAX_KEYS)) {
    copy[key] = SECRET_NAME.test(key) && inner !== null && inner !== "" ? REDACTED : redact(inner, depth + 1);
  }
  return copy;
}

export function isSecretField(name: string): boolean {
  return SECRET_NAME.test(name);
}

type Fields = Record<string, unknown>;

/**
 * The change a write made, as changed field names with their old and new
 * values. With both records: the fields that differ. With one: all its fields
 * (a create's new record, a delete's old one).
 */
export function summarizeChange(before: Fields | null, after: Fields | null): { changed: string[]; before: Fields | null; after: Fields | null } {
  if (before && after) {
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]));
    return { changed: names, before: pick(before, names), after: pick(after, names) };
  }
  const only = after ?? before;
  if (!only) return { changed: [], before: null, after: null };
  const names = Object.keys(only).filter((name) => only[name] !== null && only[name] !== undefined);
  return { changed: names, before: before ? pick(before, names) : null, after: after ? pick(after, names) : null };
}

function pick(fields: Fields, names: readonly string[]): Fields {
  return redact(Object.fromEntries(names.map((name) => [name, fields[name] ?? null]))) as Fields;
}

/** What a path under /api/v1 writes to: a kind and, when the path names it, an id. */
export interface AuditTarget {
  readonly kind: string;
  readonly id: string | null;
}

const KINDS: Record<string, string> = {
  tokens: "token",
  routes: "route",
  certificates: "certificate",
  resources: "resource",
  logs: "logs",
};

/** Pure: `/api/v1/proxy/targets/a.example/auth` → proxy a.example (its auth settings). */
export function auditTarget(path: string): AuditTarget {
  const segments = path.replace(/^\/api\/v1\/?/, "").split("/").filter(Boolean).map(decodeSegment);
  const [first, second, third, fourth] = segments;
  if (first === "proxy" && second === "targets") return { kind: fourth ? `proxy.${fourth}` : "proxy", id: third ?? null };
  if (first === "oauth") return { kind: second ? `oauth.${second}` : "oauth", id: third ?? null };
  if (first === "tokens") return { kind: "token", id: second && !["email", "generate"].includes(second) ? second : null };
  if (first === "services" && second === "external") return { kind: "external_service", id: third ?? null };
  if (first === "certificates") return { kind: "certificate", id: second && second !== "multi-domain" ? second : null };
  return { kind: (first && KINDS[first]) ?? first ?? "api", id: second ?? null };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
