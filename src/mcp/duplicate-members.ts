/**
 * Duplicate member names in JSON. RFC 8259 leaves their meaning open:
 * JSON.parse keeps the last, other parsers the first or refuse. A body whose
 * `method` or `params.name` the gateway reads one way and the backend
 * another would let a call past the per-tool policy, so a body that names a
 * member the edge decides on twice in one object is refused. Pure.
 */

/**
 * True when an object nested no deeper than `maxDepth` (1 = the outermost)
 * names one of `names` twice. `text` must be valid JSON: JSON.parse accepted it.
 */
export function hasDuplicateMember(text: string, names: ReadonlySet<string>, maxDepth: number): boolean {
  if (!text.includes("\\") && !someNameRepeats(text, names)) return false;
  // One entry per open container: the names seen (an object within maxDepth) or null (an array, or an object too deep to matter).
  const seenByLevel: (Set<string> | null)[] = [];
  const inObject: boolean[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      const end = closingQuote(text, i);
      if (expectName) {
        expectName = false;
        const seen = seenByLevel[seenByLevel.length - 1];
        if (seen) {
          const raw = text.slice(start, end + 1);
          // An escaped spelling ("\u006dethod") names the same member as the plain one.
          const name = raw.includes("\\") ? (JSON.parse(raw) as string) : raw.slice(1, -1);
          if (names.has(name)) {
            if (seen.has(name)) return true;
            seen.add(name);
          }
        }
      }
      i = end;
    } else if (c === 0x7b /* { */) {
      seenByLevel.push(seenByLevel.length < maxDepth ? new Set() : null);
      inObject.push(true);
      expectName = true;
    } else if (c === 0x5b /* [ */) {
      seenByLevel.push(null);
      inObject.push(false);
      expectName = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      seenByLevel.pop();
      inObject.pop();
      expectName = false;
    } else if (c === 0x2c /* , */) {
      expectName = inObject[inObject.length - 1] === true;
    }
  }
  return false;
}

/** Without escapes, a name can only be repeated if its quoted spelling occurs twice: most bodies need no scan. */
function someNameRepeats(text: string, names: ReadonlySet<string>): boolean {
  for (const name of names) {
    const quoted = `"${name}"`;
    const first = text.indexOf(quoted);
    if (first >= 0 && text.indexOf(quoted, first + quoted.length) >= 0) return true;
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
