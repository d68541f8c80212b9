/**
 * One step of an OAuth sign-in, as the flow trace records it. A flow id is
 * made at /authorize and travels in the stored login, the authorization code
 * and the grant, so every later step of the same sign-in (callback,
 * allowlist, consent, code, token, refresh, revoke) names it.
 *
 * Events never hold secrets: no codes, tokens, client secrets, verifiers,
 * states or cookies. Only the fields below exist, and the free-text `reason`
 * comes from our own error descriptions.
 */
import { randomBytes } from "node:crypto";

export type OAuthStep =
  | "authorize"
  | "client_metadata_document"
  | "upstream_redirect"
  | "callback"
  | "upstream_identity"
  | "allowlist"
  | "consent"
  | "code_issued"
  | "token"
  | "refresh"
  | "revoke"
  | "register"
  | "edge_sign_in";

export type OAuthOutcome = "ok" | "refused" | "error";

export interface OAuthEvent {
  /** ISO 8601, milliseconds. */
  readonly ts: string;
  readonly flow_id: string;
  readonly step: OAuthStep;
  readonly outcome: OAuthOutcome;
  /** Why it was refused or failed (or a short note on success); null when there is nothing to say. */
  readonly reason: string | null;
  readonly client_id: string | null;
  readonly user: string | null;
  readonly ip: string | null;
  readonly request_id: string | null;
  /** The proxy the sign-in is for, if any. */
  readonly proxy: string | null;
  /** The resources (RFC 8707) asked for, space-separated; null when none. */
  readonly resource: string | null;
}

export type OAuthEventFields = Partial<Pick<OAuthEvent, "reason" | "client_id" | "user" | "ip" | "request_id" | "proxy" | "resource">>;

/** Where events go; recording never throws and never waits. */
export interface OAuthEventSink {
  record(event: OAuthEvent): void;
}

export const DISCARD_EVENTS: OAuthEventSink = { record: () => {} };

/** 128 random bits, hex: unguessable, and safe in a Redis key and a URL. */
export function newFlowId(): string {
  return randomBytes(16).toString("hex");
}

export const FLOW_ID = /^[0-9a-f]{32}$/;

/** Free text from requests is bounded before it is kept. */
const MAX_TEXT = 300;

export function oauthEvent(flowId: string, step: OAuthStep, outcome: OAuthOutcome, fields: OAuthEventFields, now = Date.now()): OAuthEvent {
  return {
    ts: new Date(now).toISOString(),
    flow_id: flowId,
    step,
    outcome,
    reason: bounded(fields.reason),
    client_id: bounded(fields.client_id),
    user: bounded(fields.user),
    ip: bounded(fields.ip),
    request_id: bounded(fields.request_id),
    proxy: bounded(fields.proxy),
    resource: bounded(fields.resource),
  };
}

function bounded(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === "") return null;
  return value.length > MAX_TEXT ? `${value.slice(0, MAX_TEXT)}…` : value;
}
