/**
 * What a client's `MCP-Protocol-Version` header says about the rules its
 * requests follow. Revisions are ISO dates, so they compare as strings; a
 * value that is not a date (a draft name, garbage) is treated as an older
 * revision: its headers are never trusted and it may not batch. Pure.
 */

/** SEP-2243: the first revision whose clients mirror the method and name into Mcp-Method / Mcp-Name. */
export const FIRST_STANDARD_HEADER_REVISION = "2026-07-28";

/** The last revision that allowed JSON-RPC batches (2025-06-18 removed them). */
export const LAST_BATCH_REVISION = "2025-03-26";

const REVISION = /^\d{4}-\d{2}-\d{2}$/;

/** True when the revision requires Mcp-Method (and Mcp-Name) to match the body. */
export function definesStandardHeaders(version: string | null): boolean {
  return version !== null && REVISION.test(version) && version >= FIRST_STANDARD_HEADER_REVISION;
}

/**
 * True when the client may send a batch: no header at all (the 2025-06-18
 * transport says to assume 2025-03-26 then) or a revision up to 2025-03-26.
 */
export function allowsBatches(version: string | null): boolean {
  return version === null || (REVISION.test(version) && version <= LAST_BATCH_REVISION);
}
