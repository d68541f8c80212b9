/**
 * What a connection's edge auth allowed last, and what that decision read.
 * A keep-alive client (an MCP client, a script) asks the same proxy the same
 * way with the same token, request after request. Edge auth is a function of
 * the proxy's compiled entry and route (a config change makes new ones), the
 * method, the path, the headers, and the verifier's view of the token at
 * that moment. The headers are the very same HeadHeaders object only while
 * the header block repeats byte for byte (RepeatedHeads), so a request that
 * matches on all of those is allowed the same way once the verifier still
 * admits its token (expiry, revocation, signing keys: checked on every
 * request, as without this). Saves the decision's objects and lookups
 * (~0.2 µs per request); anything else takes the whole decision.
 */
import type { EdgeTokenVerifier, RememberedToken } from "../../auth/edge/edge-tokens";
import type { AccessTokenClaims } from "../../auth/tokens/access-token";
import type { IdentityRewrite } from "../../proxies/forward-target";
import type { HeadHeaders } from "../http1/head-headers";
import type { HostEntry } from "../host-table";
import type { CompiledRoute } from "../routes";

export interface Allowance {
  readonly identity: IdentityRewrite | undefined;
  readonly claims: AccessTokenClaims;
}

export class LastAllowed {
  private headers: HeadHeaders | undefined;
  private entry: HostEntry | undefined;
  private route: CompiledRoute | undefined;
  private method = "";
  private path = "";
  private allowance: Allowance | undefined;

  /** Remembers an allow that carried verified claims (an anonymous allow is not remembered: no token to check again). */
  remember(headers: HeadHeaders, entry: HostEntry, route: CompiledRoute | undefined, method: string, path: string, allowance: Allowance): void {
    this.headers = headers;
    this.entry = entry;
    this.route = route;
    this.method = method;
    this.path = path;
    this.allowance = allowance;
  }

  /**
   * The last allowance, when this request is the same as its request and its
   * token is still admitted; otherwise undefined (and forgotten once the
   * token is not), and the caller decides afresh.
   */
  again(
    headers: HeadHeaders,
    entry: HostEntry,
    route: CompiledRoute | undefined,
    method: string,
    path: string,
    verifier: EdgeTokenVerifier,
    remembered: RememberedToken,
  ): Allowance | undefined {
    const allowance = this.allowance;
    if (allowance === undefined || headers !== this.headers || entry !== this.entry || route !== this.route || method !== this.method || path !== this.path) {
      return undefined;
    }
    try {
      // `remembered` holds the token the verifier saw last. Claims objects are one per verified token, so
      // the same claims mean it is this request's token (the same headers carry the same one), still admitted.
      if (verifier.verify(remembered.token, remembered) === allowance.claims) return allowance;
    } catch {
      // Expired or revoked since: the whole decision gives the refusal.
    }
    this.allowance = undefined;
    return undefined;
  }
}
