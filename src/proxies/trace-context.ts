/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the gateway joins
 * a valid incoming trace as a new span, or starts a trace. Trace context is
 * not a security boundary, so untrusted clients' traces are continued too —
 * but only a strictly valid traceparent is.
 */

export interface TraceParent {
  readonly traceId: string;
  readonly parentId: string;
  readonly flags: string;
}

/** Version 00 exactly: lower-case hex fields, nothing after the flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_PARENT = "0".repeat(16);

/** The parsed header, or null when it is absent or invalid (then a new trace starts and tracestate is dropped). */
export function parseTraceparent(value: string | null): TraceParent | null {
  if (value === null) return null;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return null;
  const [, traceId, parentId, flags] = match as unknown as [string, string, string, string];
  if (traceId === ZERO_TRACE || parentId === ZERO_PARENT) return null;
  return { traceId, parentId, flags };
}

/**
 * Random hex sliced from a pooled string: one getRandomValues and one hex
 * encoding per 512 span ids instead of per request (this runs on every request).
 */
const pool = new Uint8Array(4096);
let hexPool = "";
let used = 0;
function randomHex(bytes: number): string {
  const chars = bytes * 2;
  if (used + chars > hexPool.length) {
    crypto.getRandomValues(pool);
    hexPool = Buffer.from(pool).toString("hex");
    used = 0;
  }
  const hex = hexPool.slice(used, used + chars);
  used += chars;
  return hex;
}

const ALL_ZERO = /^0+$/;

function nonZeroHex(bytes: number): string {
  for (;;) {
    const hex = randomHex(bytes);
    if (!ALL_ZERO.test(hex)) return hex;
  }
}

/** The gateway's span: the incoming trace with a new parent-id and the same flags, or a new sampled-off trace. */
export function gatewayTraceparent(incoming: TraceParent | null): string {
  const spanId = nonZeroHex(8);
  return incoming ? `00-${incoming.traceId}-${spanId}-${incoming.flags}` : `00-${nonZeroHex(16)}-${spanId}-00`;
}
