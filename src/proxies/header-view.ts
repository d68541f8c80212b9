/**
 * What the header rules read from a request's headers: a `Headers` object
 * (Bun.serve's requests) and a parsed raw request head (the raw edge,
 * dispatcher/http1/head-headers.ts) both provide it, so both engines apply
 * exactly the same rules. Names handed to `forEach` are lowercase.
 */
export interface HeaderView {
  get(name: string): string | null;
  forEach(visit: (value: string, name: string) => void): void;
}
