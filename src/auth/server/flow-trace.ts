/**
 * The OAuth endpoints' side of the flow trace (consumers/oauth-events): one
 * call per step, with the request's address and id filled in. Recording is
 * a hand-over to an in-memory queue: it never waits and never throws.
 */
import { createHash } from "node:crypto";
import { newFlowId, oauthEvent, type OAuthEventFields, type OAuthEventSink, type OAuthOutcome, type OAuthStep } from "../../consumers/oauth-events/event";
import { clientIp } from "./request-facts";

/** Where a request came from, as far as an event shows it. */
export interface RequestFacts {
  readonly ip: string | null;
  readonly request_id: string | null;
}

/** The dispatcher sets X-Request-Id (keeping a trusted proxy's); bounded here because it becomes part of a record. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestFacts(request: Request): RequestFacts {
  const id = request.headers.get("x-request-id");
  return { ip: clientIp(request), request_id: id && REQUEST_ID.test(id) ? id : null };
}

/**
 * The flow id of a sign-in the gateway's own edge client started: derived
 * from the edge's `state` (256 random bits it makes per sign-in), so the
 * proxy's sign-in callback, which gets the same state back, joins the flow
 * /authorize began without any id travelling through the browser.
 */
export function edgeFlowId(state: string): string {
  return createHash("sha256").update(`portcullis-edge-flow:${state}`).digest("hex").slice(0, 32);
}

/** Records the steps of one flow; `fields` given here go into each of its events. */
export class FlowTrace {
  constructor(
    private readonly sink: OAuthEventSink,
    readonly flowId: string,
    private readonly base: OAuthEventFields,
  ) {}

  /** A flow that has no id yet (a step that could not be tied to a sign-in): a fresh one. */
  static start(sink: OAuthEventSink, facts: RequestFacts, fields: OAuthEventFields = {}, flowId?: string | null): FlowTrace {
    return new FlowTrace(sink, flowId ?? newFlowId(), { ...facts, ...fields });
  }

  /** This step belongs to an earlier sign-in's flow (the code's, the grant's), when that is known. */
  join(flowId: string | null | undefined): FlowTrace {
    return flowId ? new FlowTrace(this.sink, flowId, this.base) : this;
  }

  /** The same flow with more fields known (the client, the user). */
  with(fields: OAuthEventFields): FlowTrace {
    return new FlowTrace(this.sink, this.flowId, { ...this.base, ...fields });
  }

  step(step: OAuthStep, outcome: OAuthOutcome, fields: OAuthEventFields = {}): void {
    try {
      this.sink.record(oauthEvent(this.flowId, step, outcome, { ...this.base, ...fields }));
    } catch {
      // A trace must never fail a sign-in.
    }
  }
}
