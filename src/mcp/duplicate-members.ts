/**
 * Duplicate member names in JSON. RFC 8259 leaves their meaning open:
 * JSON.parse keeps the last, other parsers the first or refuse. A body whose
 * `method` or `params.name` the gateway reads one way and the backend
 * another would let a call past the per-tool policy, so a body that names a
 * member the edge decides on twice in one object is refused. Pure; runs on
 * the request path, so it allocates nothing for a body without escapes.
 */

/** The member names to watch, prepared once (at most 31: one bit each). */
export interface WatchedMembers {
  readonly names: readonly string[];
  /** Each name as it appears in JSON text, quotes included. */
  readonly quoted: readonly string[];
}

export function watchedMembers(names: readonly string[]): WatchedMembers {
  const unique = [...new Set(names)];
  if (unique.length > 31) throw new Error("watchedMembers: at most 31 names");
  return { names: unique, quoted: unique.map((name) => JSON.stringify(name)) };
}

/**
 * True when an object nested no deeper than `maxDepth` (1 = the outermost)
 * names a watched member twice. `text` must be valid JSON: JSON.parse accepted it.
 */
export function hasDuplicateMember(text: string, watched: WatchedMembers, maxDepth: number): boolean {
  const escaped = text.includes("\\");
  if (!escaped && !someNameRepeats(text, watched.quoted)) return false;
  // Per open container, the watched names seen as bits; -1 for an array or an object too deep to matter.
  const seen: number[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = closingQuote(text, i);
      const level = seen.length - 1;
      if (expectName && seen[level]! >= 0) {
        const bit = watchedBit(text, i, end, watched, escaped);
        if (bit !== 0) {
          if ((seen[level]! & bit) !== 0) return true;
          seen[level]! |= bit;
        }
      }
      expectName = false;
      i = end;
    } else if (c === 0x7b /* { */) {
      seen.push(seen.length < maxDepth ? 0 : -1);
      expectName = true;
    } else if (c === 0x5b /* [ */) {
      seen.push(-1);
      expectName = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      seen.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      expectName = seen[seen.length - 1]! >= 0;
    }
  }
  return false;
}

/** The bit of the watched name the string at [start, end] spells, or 0. */
function watchedBit(text: string, start: number, end: number, watched: WatchedMembers, escaped: boolean): number {
  const length = end - start + 1;
  const quoted = watched.quoted;
  for (let k = 0; k < quoted.length; k++) {
    if (quoted[k]!.length === length && text.startsWith(quoted[k]!, start)) return 1 << k;
  }
  if (!escaped || text.indexOf("\\", start) > end) return 0;
  // An escaped spelling ("\u006dethod") names the same member as the plain one.
  const index = watched.names.indexOf(JSON.parse(text.slice(start, end + 1)) as string);
  return index < 0 ? 0 : 1 << index;
}

/** Without escapes, a name can only be repeated if its quoted spelling occurs twice: most bodies need no scan. */
function someNameRepeats(text: string, quoted: readonly string[]): boolean {
  for (let k = 0; k < quoted.length; k++) {
    const first = text.indexOf(quoted[k]!);
    if (first >= 0 && text.indexOf(quoted[k]!, first + quoted[k]!.length) >= 0) return true;
  }
  return false;
}

/** The index of the quote that ends the string opening at `open`. */
function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1);
  while (at > 0) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return at;
    at = text.indexOf('"', at + 1);
  }
  return text.length;
}
