/**
 * What the in-process micro benchmarks (bench/auth-micro.ts,
 * bench/fast-lane-micro.ts) share: proxies and real RS256 keys and tokens
 * held in memory for the host table and the edge's verifier, and rows timed
 * each in a process of their own (rows sharing one JIT skew each other: call
 * sites turn polymorphic), best of several batches, printed as a table of ns
 * per request.
 */
import { generateKeyPair } from "jose";
import { PROXY_DEFAULTS } from "../src/api/schemas/proxy-target";
import type { ProxyRecord } from "../src/storage/proxy-repository";
import { EdgeTokenVerifier } from "../src/auth/edge/edge-tokens";
import { signAccessToken } from "../src/auth/tokens/access-token";
import { RevokedTokens } from "../src/auth/tokens/revoked-tokens";
import type { SigningKeys } from "../src/auth/tokens/signing-keys";
import { AUTH_ENV, AUTH_USER } from "./auth";

/** The authorization server's issuer under bench/auth.ts's BASE_DOMAIN. */
export const ISSUER = `https://auth.${AUTH_ENV.BASE_DOMAIN}`;

/** A stored proxy as the API would have written it, for an in-memory host table. */
export function proxyRecord(hostname: string, auth: Partial<ProxyRecord>): ProxyRecord {
  const now = new Date().toISOString();
  return { ...PROXY_DEFAULTS, hostname, target_url: "http://127.0.0.1:9/", owner_token_hash: null, created_by: null, created_at: now, updated_at: now, ...auth } as ProxyRecord;
}

export interface InMemoryTokens {
  readonly verifier: EdgeTokenVerifier;
  /** An access token for AUTH_USER with `https://{host}` as its audience, already verified once (the signature check is not timed). */
  mint(host: string): Promise<string>;
}

/** The verifier only asks for a kid's algorithm and public key: real keys, held in memory instead of Redis. */
export async function inMemoryTokens(): Promise<InMemoryTokens> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const kid = "bench";
  const keys = {
    current: () => ({ kid, alg: "RS256", privateKey }),
    verificationKey: (k: string) => (k === kid ? { alg: "RS256", publicKey } : undefined),
    reloadForUnknownKid: async () => {},
  } as unknown as SigningKeys;
  const verifier = new EdgeTokenVerifier(keys, new RevokedTokens(null as never));
  const claims = (host: string) => ({ iss: ISSUER, sub: `admin-${AUTH_USER}`, aud: [`https://${host}`], client_id: "portcullis-admin", azp: "portcullis-admin", scope: "mcp:read mcp:write", login: AUTH_USER });
  return {
    verifier,
    async mint(host) {
      const token = (await signAccessToken(keys, claims(host), 3_600)).token;
      await verifier.verify(token);
      return token;
    },
  };
}

export type MicroRow = readonly [name: string, step: () => void];

const BATCH = 100_000;
const BATCHES = 7;
/** Processes per row; the best is kept. */
const PROCESSES = 3;

function time(step: () => void): number {
  for (let i = 0; i < BATCH; i++) step(); // warm-up: JIT tiers
  let bestNs = Infinity;
  for (let b = 0; b < BATCHES; b++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < BATCH; i++) step();
    bestNs = Math.min(bestNs, (Bun.nanoseconds() - start) / BATCH);
  }
  return bestNs;
}

/**
 * Run as `script --row N`, times row N and exits; otherwise runs the script
 * once per row and process and returns each row's best ns per request.
 * `sink` is what the steps accumulate, printed so no step can be optimized away.
 */
export function timeRows(script: string, rows: readonly MicroRow[], sink: () => number): number[] {
  const rowFlag = process.argv.indexOf("--row");
  if (rowFlag >= 0) {
    const ns = time(rows[Number(process.argv[rowFlag + 1])]![1]);
    console.log(`${ns}${sink() < 0 ? " " : ""}`);
    process.exit(0);
  }
  return rows.map((_, i) => {
    let bestNs = Infinity;
    for (let p = 0; p < PROCESSES; p++) {
      const child = Bun.spawnSync([process.execPath, script, "--row", String(i)], { stderr: "inherit" });
      if (!child.success) throw new Error(`row ${i} failed`);
      bestNs = Math.min(bestNs, Number(child.stdout.toString().trim()));
    }
    return bestNs;
  });
}

export function printRows(rows: readonly MicroRow[], results: readonly number[], tokenLength: number): void {
  console.log(`Bun ${Bun.version}; per row: best of ${PROCESSES} processes × ${BATCHES} batches of ${BATCH.toLocaleString("en-US")}; token ${tokenLength} characters\n`);
  console.log("| step | ns per request |");
  console.log("| --- | ---: |");
  rows.forEach(([name], i) => console.log(`| ${name} | ${results[i]!.toFixed(0)} |`));
}
