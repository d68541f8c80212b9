/**
 * The Redis key schema (spec: "Redis Storage Schema"). Every key the gateway
 * reads or writes is built here and nowhere else.
 */
export const keys = {
  token: (name: string) => `token:${name}`,
  tokenByHash: (hash: string) => `token:hash:${hash}`,
  /** Pattern for SCAN over token records (excludes the hash index by a filter in the repository). */
  tokenScan: "token:*",
  tokenHashPrefix: "token:hash:",
  /** Set of `kind\u0000id` members naming every resource a token owns (for cascade delete). */
  ownedBy: (ownerHash: string) => `owner:${ownerHash}`,
} as const;
