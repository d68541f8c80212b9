/**
 * JSON.parse with a nesting limit checked first. Deep nesting is how a small
 * body makes recursive code (schema validation, error serialisers) overflow
 * the stack and stall the event loop for seconds; no document the gateway
 * accepts comes near the limit.
 */
export const MAX_JSON_DEPTH = 64;

export type JsonResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string };

export function parseBoundedJson(text: string, maxDepth = MAX_JSON_DEPTH): JsonResult {
  const depth = nestingDepth(text, maxDepth);
  if (depth > maxDepth) return { ok: false, reason: `JSON nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: "not valid JSON" };
  }
}

/** The deepest nesting of arrays and objects outside strings, counting no further than `stopAbove` + 1. */
function nestingDepth(text: string, stopAbove: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest && (deepest = depth) > stopAbove) return deepest;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return deepest;
}
