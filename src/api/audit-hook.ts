/**
 * Every write to /api/v1 (POST, PUT, PATCH, DELETE), whatever its outcome,
 * becomes an audit entry: hooked once around the API app rather than in each
 * route. For the resources with a repository (proxies and their settings,
 * routes, tokens, certificates, resources, external services) the record is read before and
 * after the write, so the entry says which fields changed from what to what;
 * otherwise the request body's fields stand for the change. Secrets are
 * redacted (entry.ts). The entry is written after the answer is ready and
 * never delays or fails it. Reads are not audited, except the one read that
 * hands out a secret (a proxy's GitHub client secret, an OAuth client's stored
 * secret hashes): its entry says who read it, never the value.
 */
import { pathOf } from "../core/request-path";
import type { AuditLog } from "../consumers/audit/audit-log";
import { auditTarget, summarizeChange, type AuditEntry, type AuditTarget } from "../consumers/audit/entry";
import type { Stores } from "../storage/stores";
import { authenticate, type Caller } from "./caller";
import { apiClientIp } from "./client-address";

export type AuditStores = Pick<Stores, "tokens" | "proxies" | "routes" | "certificates" | "resources" | "services">;

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** GETs that answer a secret in clear: who read one is worth knowing. */
const SECRET_READ = /^\/api\/v1\/(proxy\/targets\/[^/]+\/github-oauth\/secret|oauth\/clients\/[^/]+\/secret-hashes)\/?$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Fields of a request body or a created record that name it, in order of preference. */
const ID_FIELDS = ["hostname", "route_id", "service_name", "name", "cert_name", "uri", "resource", "client_id", "id"];

type Fields = Record<string, unknown>;
type Handle = (request: Request) => Promise<Response>;

export function audited(handle: Handle, audit: AuditLog, stores: AuditStores): Handle {
  return async (request) => {
    const path = pathOf(request.url);
    if (request.method === "GET" && SECRET_READ.test(path)) return auditedRead(handle, request, path, audit, stores);
    if (!WRITES.has(request.method) || !path.startsWith("/api/v1/")) return handle(request);
    const body = request.clone() as Request;
    const target = auditTarget(path);
    // The guard authenticates the same request next; authenticate() remembers the answer.
    const caller = await authenticate(request, stores.tokens).catch(() => null);
    // Without a valid token nothing was written and nobody is accountable: the request log has the 401.
    // Recording them would let anyone grow the audit stream at will.
    if (!caller) return handle(request);
    // A path that names its record (an update, a delete, a POST to a proxy's settings) is read before the write.
    const before = target.id ? await readRecord(stores, target, target.id) : null;
    const response = await handle(request);
    void describe({ request, path, target, caller, before, stores }, body, response.clone() as Response)
      .then((entry) => audit.record(entry))
      .catch(() => {
        audit.dropped++;
      });
    return response;
  };
}

/** A secret's read: the entry names the caller and the record, with no field values (the answer is never read). */
async function auditedRead(handle: Handle, request: Request, path: string, audit: AuditLog, stores: AuditStores): Promise<Response> {
  const caller = await authenticate(request, stores.tokens).catch(() => null);
  const response = await handle(request);
  if (!caller) return response;
  const target = auditTarget(path);
  const failure = response.status >= 400 ? await jsonObject(response.clone() as Response) : null;
  audit.record({
    ts: new Date().toISOString(),
    token: caller.name,
    role: caller.role,
    ip: apiClientIp(request),
    request_id: requestId(request, response),
    method: request.method,
    path,
    resource_kind: `${target.kind}.secret`,
    resource_id: target.id,
    status: response.status,
    changed: [],
    before: null,
    after: null,
    error: typeof failure?.error === "string" ? failure.error : null,
  });
  return response;
}

interface WriteFacts {
  readonly request: Request;
  readonly path: string;
  readonly target: AuditTarget;
  readonly caller: Caller;
  /** The record before the write, when the path names one with a repository. */
  readonly before: Fields | null;
  readonly stores: AuditStores;
}

async function describe(facts: WriteFacts, bodyCopy: Request, response: Response): Promise<AuditEntry> {
  const { request, target, caller, before } = facts;
  const asked = await jsonObject(bodyCopy);
  const answer = await jsonObject(response);
  const ok = response.status < 400;
  const id = target.id ?? idFrom(asked) ?? (ok ? idFrom(answer) : null);
  let change: ReturnType<typeof summarizeChange>;
  if (!ok) {
    // A refused write changed nothing: what it asked for is the story.
    change = summarizeChange(null, asked);
  } else if (request.method === "DELETE" && !target.kind.includes(".")) {
    change = summarizeChange(before, null);
  } else {
    const after = id ? await readRecord(facts.stores, target, id) : null;
    change = summarizeChange(before, after ?? (before ? { ...before, ...asked } : asked));
  }
  return {
    ts: new Date().toISOString(),
    token: caller.name,
    role: caller.role,
    ip: apiClientIp(request),
    request_id: requestId(request, response),
    method: request.method,
    path: facts.path,
    resource_kind: target.kind,
    resource_id: id,
    status: response.status,
    ...change,
    error: ok ? null : typeof answer?.error === "string" ? answer.error : null,
  };
}

/** The stored record a write is about, as plain fields; null when there is none or it cannot be read. */
async function readRecord(stores: AuditStores, target: AuditTarget, id: string): Promise<Fields | null> {
  const kind = target.kind.split(".")[0];
  try {
    const record =
      kind === "proxy"
        ? await stores.proxies.get(id)
        : kind === "route"
          ? await stores.routes.get(id)
          : kind === "token"
            ? await stores.tokens.getByName(id)
            : kind === "certificate"
              ? await stores.certificates.get(id)
              : kind === "resource"
                ? await stores.resources.get(id)
                : kind === "external_service"
                  ? await stores.services.get(id)
                  : null;
    return record ? ({ ...record } as Fields) : null;
  } catch {
    return null;
  }
}

function idFrom(fields: Fields | null): string | null {
  if (!fields) return null;
  for (const name of ID_FIELDS) if (typeof fields[name] === "string" && fields[name]) return fields[name] as string;
  return null;
}

/** A JSON object body, or null (not JSON, not an object, or empty). */
async function jsonObject(message: Request | Response): Promise<Fields | null> {
  if (!/json/i.test(message.headers.get("content-type") ?? "")) return null;
  try {
    const value = (await message.json()) as unknown;
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Fields) : null;
  } catch {
    return null;
  }
}

function requestId(request: Request, response: Response): string | null {
  const id = response.headers.get("x-request-id") ?? request.headers.get("x-request-id");
  return id && REQUEST_ID.test(id) ? id : null;
}
