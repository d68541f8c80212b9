/**
 * Legacy MCP sessions (`Mcp-Session-Id`, revisions before 2026-07-28) stay
 * on the backend that holds their state, on every gateway node, also after
 * the proxy's target_url changes (a blue/green switch): new sessions go to
 * the new target, existing ones finish on the old.
 *
 * Why a sealed id rather than a session → target record in Redis: the id
 * the client sees carries the target itself (session-seal.ts), so every
 * node routes the next request of a session the moment the first answer
 * leaves, with no write, no event to wait for and no table to bound — a
 * record in Redis would reach the other nodes only through the event
 * stream (a client that initializes on node A and calls on node B a few
 * milliseconds later would race it), and every node would hold every
 * session in memory. The key (session-seal-key.ts) is shared through Redis,
 * as the token signing keys are, so nodes with separate data dirs agree.
 *
 * Only requests to an MCP proxy's endpoint take part, and only once a
 * backend answers with an Mcp-Session-Id; a 2026-07-28 exchange (no
 * session) costs a header lookup. An id the gateway cannot open (unknown,
 * forged, another proxy's or user's, or a raw one from before this
 * existed) goes to the current target as it is: the backend answers 404
 * for an unknown session, as the transport says, and the client
 * re-initializes. A session on a target other than the current one is
 * followed for at most MAX_FOLLOW_SECONDS, then also goes to the current
 * target, so an old backend can be retired on a known schedule.
 */
import { createHash } from "node:crypto";
import { forwardTarget, type ForwardTarget } from "../proxies/forward-target";
import type { McpEndpoint } from "./mcp-endpoint";
import { openSession, sealSession, type SessionBinding, type SessionRecord } from "./session-seal";

/** How long a session keeps going to a backend that is no longer the proxy's target: a day. */
export const MAX_FOLLOW_SECONDS = 24 * 60 * 60;

const SESSION_HEADER = "mcp-session-id";

/** Old targets remembered per current target; a proxy has few (one per switch still holding sessions). */
const MAX_OLD_TARGETS = 32;

/**
 * Ids opened lately, so a busy session costs a map lookup instead of an
 * AES-GCM open (~10 µs) per request. Only ids that opened are kept; the
 * oldest goes first once it is full (an entry is ~0.5 KB).
 */
const MAX_OPENED = 4096;

interface Opened {
  /** The binding it opened for (proxy NUL subject): under any other it would not. */
  readonly boundTo: string;
  readonly record: SessionRecord;
}

/** Where one request goes, and how its answer's session id is shown to the client. */
export interface SessionRoute {
  readonly target: ForwardTarget;
  answer(response: Response): Response;
}

export interface SessionAffinityOptions {
  readonly maxFollowSeconds?: number;
  /** Milliseconds since the epoch; tests move it. */
  readonly now?: () => number;
}

export class McpSessionAffinity {
  readonly #key: Uint8Array;
  readonly #maxFollowSeconds: number;
  readonly #now: () => number;
  /** Old backends by URL, per current target: built once, dropped with the host table that held the current one. */
  readonly #oldTargets = new WeakMap<ForwardTarget, Map<string, ForwardTarget | null>>();
  readonly #opened = new Map<string, Opened>();

  constructor(key: Uint8Array, options: SessionAffinityOptions = {}) {
    this.#key = new Uint8Array(key);
    this.#maxFollowSeconds = options.maxFollowSeconds ?? MAX_FOLLOW_SECONDS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * For a request to an MCP proxy (`proxy`: its hostname), headed for
   * `current` (its target or a route's): null when sessions play no part,
   * else the target to send it to. The request's Mcp-Session-Id is set to
   * the backend's own id when the client's opened.
   */
  route(proxy: string, mcp: McpEndpoint, request: Request, path: string, current: ForwardTarget, subject: string | undefined): SessionRoute | null {
    if (!mcp.isEndpointPath(path)) return null;
    const presented = request.headers.get(SESSION_HEADER);
    const binding: SessionBinding = { proxy, subject: subject ?? "" };
    // Sessions start with a POST (initialize); without an id, nothing else can be given one.
    if (presented === null) return request.method === "POST" ? this.#sealing(current, binding, null, presented) : null;
    const record = this.#open(presented, binding);
    if (record === null) return this.#sealing(current, binding, null, presented);
    // The client ends the session: its id need not be kept open for it.
    if (request.method === "DELETE") this.#opened.delete(presented);
    request.headers.set(SESSION_HEADER, record.serverSessionId);
    return this.#sealing(this.#targetFor(record, current), binding, record, presented);
  }

  /** Ids opened before are looked up, not decrypted again. */
  #open(presented: string, binding: SessionBinding): SessionRecord | null {
    const boundTo = `${binding.proxy}\0${binding.subject}`;
    const hit = this.#opened.get(presented);
    if (hit) return hit.boundTo === boundTo ? hit.record : null;
    const record = openSession(this.#key, presented, binding);
    if (record === null) return null;
    if (this.#opened.size >= MAX_OPENED) this.#opened.delete(this.#opened.keys().next().value!);
    this.#opened.set(presented, { boundTo, record });
    return record;
  }

  /** The backend that holds the session, while the proxy forwards the same way; the current target otherwise. */
  #targetFor(record: SessionRecord, current: ForwardTarget): ForwardTarget {
    if (record.target === current.url.href) return current;
    if (record.settings !== settingsDigest(current)) return current;
    if (this.#now() / 1000 - record.sealedAt > this.#maxFollowSeconds) return current;
    let old = this.#oldTargets.get(current);
    if (!old) this.#oldTargets.set(current, (old = new Map()));
    let target = old.get(record.target);
    if (target === undefined) {
      if (old.size >= MAX_OLD_TARGETS) old.clear();
      target = rebuild(record.target, current);
      old.set(record.target, target);
    }
    return target ?? current;
  }

  /** Shows the client a sealed id for whatever session id the backend at `target` answers with. */
  #sealing(target: ForwardTarget, binding: SessionBinding, record: SessionRecord | null, presented: string | null): SessionRoute {
    return {
      target,
      answer: (response) => {
        const assigned = response.headers.get(SESSION_HEADER);
        if (assigned === null) return response;
        // The session the client named, on the backend it was sealed to: the client keeps its id.
        if (record && presented !== null && assigned === record.serverSessionId && target.url.href === record.target) {
          response.headers.set(SESSION_HEADER, presented);
          return response;
        }
        const sealed = sealSession(this.#key, { target: target.url.href, settings: settingsDigest(target), serverSessionId: assigned, sealedAt: Math.floor(this.#now() / 1000) }, binding);
        // An id too long to seal stays as the backend sent it: the session works, without affinity.
        if (sealed !== null) response.headers.set(SESSION_HEADER, sealed);
        return response;
      },
    };
  }
}

const digests = new WeakMap<ForwardTarget, string>();

/** A short digest of what the proxy adds to requests and answers (Host, custom headers); the URL is apart. */
export function settingsDigest(target: ForwardTarget): string {
  let digest = digests.get(target);
  if (digest === undefined) {
    const settings = JSON.stringify([target.preserveHost, target.requestHeaders, target.responseHeaders]);
    digest = createHash("sha256").update(settings).digest("base64url").slice(0, 22);
    digests.set(target, digest);
  }
  return digest;
}

/** An old backend, forwarded to with the current target's settings (which the digest says are the ones it had). */
function rebuild(url: string, current: ForwardTarget): ForwardTarget | null {
  try {
    return forwardTarget(url, {
      preserveHost: current.preserveHost,
      requestHeaders: Object.fromEntries(current.requestHeaders),
      responseHeaders: Object.fromEntries(current.responseHeaders),
    });
  } catch {
    return null;
  }
}
