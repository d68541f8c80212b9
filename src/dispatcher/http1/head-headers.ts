/**
 * A parsed request head (request-head.ts) as a HeaderView: the header rules
 * of proxies/headers.ts and the trace and auth code read it as they read a
 * Request's Headers. Nothing is copied up front; `get` scans the few lines a
 * head has, and names become strings only when visited.
 *
 * Unlike `Headers`, repeated lines are visited one by one (the forwarder
 * writes them as separate lines, which means the same), and `get` joins them
 * with ", " as `Headers` does.
 */
import type { HeaderView } from "../../proxies/header-view";
import { FIELD_STRIDE, type RequestHead } from "./request-head";

export class HeadHeaders implements HeaderView {
  /**
   * Values looked up so far. Edge auth reads Authorization twice (the token,
   * then whether it came as a bearer), and a raw-edge connection keeps these
   * headers for its next requests while their header block repeats: the same
   * string each time, which later comparisons find equal at once.
   */
  private values: Map<string, string | null> | undefined;

  constructor(private readonly head: RequestHead) {}

  /** Whether these are `head`'s headers too: its block is the one the parser shared from this head's. */
  reads(head: RequestHead): boolean {
    return head.fields === this.head.fields;
  }

  get(name: string): string | null {
    // The parser already holds it: one Host line at most (a second is refused), its value without whitespace.
    if (name === "host") return this.head.host ?? null;
    const values = (this.values ??= new Map());
    let value = values.get(name);
    if (value === undefined) values.set(name, (value = this.scan(name)));
    return value;
  }

  private scan(name: string): string | null {
    const { text, fields, fieldCount } = this.head;
    const length = name.length;
    let found: string | null = null;
    for (let i = 0; i < fieldCount * FIELD_STRIDE; i += FIELD_STRIDE) {
      const start = fields[i]!;
      if (fields[i + 1]! - start !== length || !sameName(text, start, name)) continue;
      const value = text.slice(fields[i + 2], fields[i + 3]);
      found = found === null ? value : `${found}, ${value}`;
    }
    return found;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  forEach(visit: (value: string, name: string) => void): void {
    const { text, fields, fieldCount } = this.head;
    for (let i = 0; i < fieldCount * FIELD_STRIDE; i += FIELD_STRIDE) {
      visit(text.slice(fields[i + 2], fields[i + 3]), text.slice(fields[i], fields[i + 1]).toLowerCase());
    }
  }
}

/** `name` is lowercase; the head's name is a token (checked by the parser), so OR-ing 0x20 lower-cases only letters. */
function sameName(text: string, start: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) if ((text.charCodeAt(start + i) | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}
