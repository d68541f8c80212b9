/**
 * The scopes this authorization server offers: the default MCP scopes plus
 * every scope an operator configured on a proxy (resource_scopes,
 * auth_allowed_scopes, oauth_server_scopes, the per-tool and per-method
 * scopes of its MCP endpoint) or on a route that overrides a proxy's auth
 * (auth_config.required_scopes). Computed from this node's
 * in-memory host table, once per configuration change, so neither metadata
 * nor /authorize reads Redis for it.
 */
import { DEFAULT_SCOPES, MAX_SUPPORTED_SCOPES } from "./scope-syntax";

/** The parts of a proxy record that name scopes. */
export interface ScopeBearingProxy {
  readonly resource_scopes?: readonly string[] | null;
  readonly auth_allowed_scopes?: readonly string[] | null;
  readonly oauth_server_scopes?: readonly string[] | null;
  /** Tool name or glob → the scopes a tools/call needs (src/mcp). */
  readonly mcp_tool_scopes?: Readonly<Record<string, readonly string[]>> | null;
  /** JSON-RPC method or glob → the scopes it needs (src/mcp). */
  readonly mcp_method_scopes?: Readonly<Record<string, readonly string[]>> | null;
}

/** One host of the live configuration, as far as scopes go (a dispatcher HostEntry fits). */
export interface ScopeBearingHost {
  readonly record: ScopeBearingProxy;
  readonly routes: readonly { readonly authPolicy?: { readonly requiredScopes: readonly string[] } | null }[];
}

/** The live configuration, as far as scopes go (the dispatcher's HostTable fits). */
export interface ScopeBearingTable {
  entries(): Iterable<ScopeBearingHost>;
  lookup(host: string): ScopeBearingHost | undefined;
}

/** Every scope one host uses: what its resource offers, what its auth and its routes require. */
export function scopesOfHost(host: ScopeBearingHost): string[] {
  const found = new Set<string>();
  const { record } = host;
  const lists = [record.resource_scopes, record.auth_allowed_scopes, record.oauth_server_scopes, ...Object.values(record.mcp_tool_scopes ?? {}), ...Object.values(record.mcp_method_scopes ?? {})];
  for (const list of lists) for (const scope of list ?? []) found.add(scope);
  for (const route of host.routes) for (const scope of route.authPolicy?.requiredScopes ?? []) found.add(scope);
  return [...found];
}

/**
 * The defaults first, then every configured scope in sorted order (so every
 * node advertises the same list), cut at MAX_SUPPORTED_SCOPES.
 */
export function supportedScopesOf(hosts: Iterable<ScopeBearingHost>): { scopes: string[]; dropped: number } {
  const configured = new Set<string>();
  for (const host of hosts) for (const scope of scopesOfHost(host)) configured.add(scope);
  for (const scope of DEFAULT_SCOPES) configured.delete(scope);
  const extra = [...configured].sort();
  const room = MAX_SUPPORTED_SCOPES - DEFAULT_SCOPES.length;
  return { scopes: [...DEFAULT_SCOPES, ...extra.slice(0, room)], dropped: Math.max(0, extra.length - room) };
}

/** The catalog over a live table that is swapped whole on every change: recomputed only when it changes. */
export class LiveScopeCatalog {
  private seen: ScopeBearingTable | undefined;
  private scopes: readonly string[] = DEFAULT_SCOPES;

  constructor(
    private readonly table: () => ScopeBearingTable,
    /** Told once per table how many configured scopes did not fit. */
    private readonly onOverflow: (dropped: number) => void = () => {},
  ) {}

  /** Every scope clients may register and ask for. */
  all(): readonly string[] {
    const table = this.table();
    if (table !== this.seen) {
      const { scopes, dropped } = supportedScopesOf(table.entries());
      this.scopes = Object.freeze(scopes);
      this.seen = table;
      if (dropped > 0) this.onOverflow(dropped);
    }
    return this.scopes;
  }

  /** The scopes the proxy on `host` uses; none for hosts it does not serve. */
  forHost(host: string): readonly string[] {
    const entry = this.table().lookup(host);
    return entry ? scopesOfHost(entry) : [];
  }
}
