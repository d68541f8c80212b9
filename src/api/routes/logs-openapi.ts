/** The query parameters of /api/v1/logs/*, as OpenAPI documents them (Elysia infers none: the routes parse the query themselves, for 400s that name the parameter). */
export interface ParameterDoc {
  readonly name: string;
  readonly in: "query" | "path";
  readonly required?: boolean;
  readonly description: string;
  readonly schema: { readonly type: "string" | "integer" | "number" | "boolean" };
}

export const FILTER_PARAMETER_DOCS: ParameterDoc[] = [
  { name: "ip", in: "query", description: "Client IP address", schema: { type: "string" } },
  { name: "host", in: "query", description: "Host asked for, or the proxy hostname that matched", schema: { type: "string" } },
  { name: "user", in: "query", description: "Authenticated user", schema: { type: "string" } },
  { name: "client_id", in: "query", description: "OAuth client_id", schema: { type: "string" } },
  { name: "status", in: "query", description: "Exact status (502) or class (5xx)", schema: { type: "string" } },
  { name: "method", in: "query", description: "HTTP method", schema: { type: "string" } },
  { name: "path", in: "query", description: "Exact path, or a prefix with a trailing * (/api/*)", schema: { type: "string" } },
  { name: "since", in: "query", description: "From this time: epoch milliseconds or ISO 8601 (instead of hours)", schema: { type: "string" } },
  { name: "until", in: "query", description: "Up to this time: epoch milliseconds or ISO 8601 (default now)", schema: { type: "string" } },
  { name: "hours", in: "query", description: "How far back from until (default 24)", schema: { type: "number" } },
  { name: "limit", in: "query", description: "Records at most (default 100, at most 1000)", schema: { type: "integer" } },
  { name: "errors", in: "query", description: "true: only status 400 and above", schema: { type: "boolean" } },
  { name: "slow", in: "query", description: "true: only requests of 1 s and longer", schema: { type: "boolean" } },
];
