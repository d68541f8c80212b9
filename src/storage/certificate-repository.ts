/**
 * Certificates (`cert:{name}`, spec "Certificate Object Schema") and the domain
 * index `cert:domain:{domain}` → name. Every write updates the index and queues
 * its event (`certificate_ready`, `certificate_deleted`) in the same
 * transaction, so every gateway node serves exactly what is stored.
 *
 * A domain belongs to the certificate written last that lists it; when that
 * certificate is deleted or drops the domain, another certificate listing it
 * (the one valid longest) takes it over.
 *
 * Records hold private keys: nothing here logs a record.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { queueEvent } from "../orchestration/events";
import { keys } from "./keys";
import { queueDisown, queueOwn, type OwnedResourceKind } from "./ownership";
import { watchAndCommit } from "./transaction";

export const CERTIFICATE_KIND = "certificate";

export interface CertificateRecord {
  cert_name: string;
  /** Exact names and one-label wildcards (`*.example.com`), lowercase. */
  domains: string[];
  email: string | null;
  acme_directory_url: string | null;
  status: string;
  /** ISO 8601; the leaf certificate's notAfter. */
  expires_at: string | null;
  fullchain_pem: string;
  /** Secret. */
  private_key_pem: string;
  owner_token_hash: string | null;
  /** "local-ca" when the gateway's own CA signed it (renewed by the sweep); absent for ACME and self-signed certificates. */
  issuer?: "local-ca";
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

/** Refuses records whose name or domains would make bad keys; the API checks user input before this. */
export function checkCertificateRecord(record: CertificateRecord): CertificateRecord {
  if (!NAME.test(record.cert_name)) throw new RangeError(`certificate name ${JSON.stringify(record.cert_name)}: letters, digits, ".", "_", "-" only`);
  const domains = [...new Set(record.domains.map((d) => d.trim().toLowerCase().replace(/\.$/, "")))];
  if (domains.length === 0) throw new RangeError(`certificate ${record.cert_name}: no domains`);
  for (const domain of domains) {
    if (domain.length > 253 || !DOMAIN.test(domain)) throw new RangeError(`certificate ${record.cert_name}: ${JSON.stringify(domain)} is not a domain`);
  }
  return { ...record, domains };
}

/** A condition on another key, checked in the same transaction as the write (the write happens only while it holds). */
export interface WriteGuard {
  readonly key: string;
  holds(value: string | null): boolean;
}

const guardHolds = async (conn: Redis, guard: WriteGuard | undefined) => !guard || guard.holds(await conn.get(guard.key));

const eventData = (record: CertificateRecord) => ({ cert_name: record.cert_name, domains: record.domains });

export class CertificateRepository {
  constructor(private readonly redis: Redis) {}

  /** Stores a new certificate and claims its domains; false if the name is taken (or `guard` does not hold). */
  create(input: CertificateRecord, guard?: WriteGuard): Promise<boolean> {
    const record = checkCertificateRecord(input);
    const watched = [keys.certificate(record.cert_name), ...record.domains.map(keys.certificateByDomain), ...(guard ? [guard.key] : [])];
    return watchAndCommit(this.redis, watched, async (conn) => {
      if (!(await guardHolds(conn, guard))) return { result: false };
      if (await conn.exists(keys.certificate(record.cert_name))) return { result: false };
      const tx = conn.multi();
      queueWrite(tx, record);
      if (record.owner_token_hash) queueOwn(tx, record.owner_token_hash, CERTIFICATE_KIND, record.cert_name);
      queueEvent(tx, { event_type: "certificate_ready", data: eventData(record) });
      return { commit: tx, result: true };
    });
  }

  /**
   * Replaces a certificate's contents (a renewal, a domain list change); the
   * owner stays. Returns the stored record, or null if there is no such
   * certificate (or `guard` does not hold).
   */
  replace(input: CertificateRecord, guard?: WriteGuard): Promise<CertificateRecord | null> {
    const checked = checkCertificateRecord(input);
    const name = checked.cert_name;
    return watchAndCommit(this.redis, [keys.certificate(name), ...(guard ? [guard.key] : [])], async (conn) => {
      if (!(await guardHolds(conn, guard))) return { result: null };
      const current = parse(await conn.get(keys.certificate(name)));
      if (!current) return { result: null };
      const record = { ...checked, owner_token_hash: current.owner_token_hash };
      const dropped = current.domains.filter((d) => !record.domains.includes(d));
      await conn.watch(...record.domains.map(keys.certificateByDomain), ...dropped.map(keys.certificateByDomain));
      const successors = await this.successors(conn, name, dropped);
      const tx = conn.multi();
      queueWrite(tx, record);
      queueHandOver(tx, successors);
      queueEvent(tx, { event_type: "certificate_ready", data: eventData(record) });
      return { commit: tx, result: record };
    });
  }

  /** Deletes a certificate, handing its domains to other certificates that list them; false if absent. */
  delete(name: string): Promise<boolean> {
    return watchAndCommit(this.redis, [keys.certificate(name)], async (conn) => {
      const current = parse(await conn.get(keys.certificate(name)));
      if (!current) return { result: false };
      await conn.watch(...current.domains.map(keys.certificateByDomain));
      const tx = conn.multi();
      await this.queueDelete(conn, tx, current, true);
      return { commit: tx, result: true };
    });
  }

  async get(name: string): Promise<CertificateRecord | null> {
    return parse(await this.redis.get(keys.certificate(name)));
  }

  /** Every certificate, by name. */
  async list(): Promise<CertificateRecord[]> {
    const names = (await this.redis.smembers(keys.certificateNames)).sort();
    if (names.length === 0) return [];
    return (await this.redis.mget(names.map(keys.certificate))).map(parse).filter((c): c is CertificateRecord => c !== null);
  }

  /** The certificate that serves `domain`: its exact entry, else the wildcard one label up. */
  async getByDomain(domain: string): Promise<CertificateRecord | null> {
    const host = domain.trim().toLowerCase().replace(/\.$/, "");
    const dot = host.indexOf(".");
    const candidates = [host, ...(dot > 0 && !host.startsWith("*.") ? ["*" + host.slice(dot)] : [])];
    const names = await this.redis.mget(candidates.map(keys.certificateByDomain));
    for (const name of names) {
      if (!name) continue;
      const record = await this.get(name);
      if (record) return record;
    }
    return null;
  }

  /** Which certificate each domain belongs to, per the index (absent: none). */
  async domainOwners(domains: readonly string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    if (domains.length === 0) return owners;
    const names = await this.redis.mget(domains.map(keys.certificateByDomain));
    domains.forEach((domain, i) => names[i] && owners.set(domain, names[i]!));
    return owners;
  }

  /**
   * The shared self-signed certificate for `commonName`: the stored one while
   * `isUsable` accepts it, else a new one from `make`, stored only if nobody
   * stored another meanwhile (every node ends up serving the same one) and
   * announced with `self_signed_certificate_ready`.
   */
  ensureSelfSigned(
    commonName: string,
    isUsable: (stored: CertificateRecord) => boolean,
    make: () => Promise<CertificateRecord>,
  ): Promise<CertificateRecord> {
    const key = keys.selfSignedCertificate(commonName);
    return watchAndCommit(this.redis, [key], async (conn) => {
      const stored = parseOrNull(await conn.get(key));
      if (stored && isUsable(stored)) return { result: stored };
      const created = await make();
      const tx = conn.multi();
      if (stored) tx.set(key, JSON.stringify(created));
      else tx.set(key, JSON.stringify(created), "NX");
      queueEvent(tx, { event_type: "self_signed_certificate_ready", data: { common_name: commonName, expires_at: created.expires_at } });
      return { commit: tx, result: created };
    });
  }

  /** Lets a token's cascade delete remove its certificates in the token's transaction. */
  ownedKind(): OwnedResourceKind {
    return {
      kind: CERTIFICATE_KIND,
      queueDelete: async (tx, names) => {
        const records = (await Promise.all(names.map((n) => this.get(n)))).filter((r): r is CertificateRecord => r !== null);
        const deleted = new Set(names);
        for (const record of records) await this.queueDelete(this.redis, tx, record, false, deleted);
      },
    };
  }

  private async queueDelete(
    conn: Redis,
    tx: ChainableCommander,
    record: CertificateRecord,
    disown: boolean,
    alsoDeleted: ReadonlySet<string> = new Set(),
  ): Promise<void> {
    const successors = await this.successors(conn, record.cert_name, record.domains, alsoDeleted);
    tx.del(keys.certificate(record.cert_name));
    tx.srem(keys.certificateNames, record.cert_name);
    queueHandOver(tx, successors);
    if (disown && record.owner_token_hash) queueDisown(tx, record.owner_token_hash, CERTIFICATE_KIND, record.cert_name);
    queueEvent(tx, { event_type: "certificate_deleted", data: eventData(record) });
  }

  /**
   * For each domain `name` gives up and still owns: the certificate to take it
   * over (null: none, the index entry goes). Successors are watched, so a
   * concurrent delete of one makes the transaction run again.
   */
  private async successors(
    conn: Redis,
    name: string,
    domains: readonly string[],
    excluded: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    if (domains.length === 0) return result;
    const owners = await conn.mget(domains.map(keys.certificateByDomain));
    const orphaned = domains.filter((_, i) => owners[i] === name);
    if (orphaned.length === 0) return result;
    const others = (await conn.smembers(keys.certificateNames)).filter((n) => n !== name && !excluded.has(n));
    const records = others.length === 0 ? [] : (await conn.mget(others.map(keys.certificate))).map(parse);
    const chosen = new Set<string>();
    for (const domain of orphaned) {
      let best: CertificateRecord | null = null;
      for (const candidate of records) {
        if (!candidate?.domains.includes(domain)) continue;
        if (!best || (candidate.expires_at ?? "") > (best.expires_at ?? "")) best = candidate;
      }
      result.set(domain, best?.cert_name ?? null);
      if (best) chosen.add(best.cert_name);
    }
    if (chosen.size > 0 && conn !== this.redis) await conn.watch(...[...chosen].map(keys.certificate));
    return result;
  }
}

function queueWrite(tx: ChainableCommander, record: CertificateRecord): void {
  tx.set(keys.certificate(record.cert_name), JSON.stringify(record));
  tx.sadd(keys.certificateNames, record.cert_name);
  for (const domain of record.domains) tx.set(keys.certificateByDomain(domain), record.cert_name);
}

function queueHandOver(tx: ChainableCommander, successors: ReadonlyMap<string, string | null>): void {
  for (const [domain, successor] of successors) {
    if (successor) tx.set(keys.certificateByDomain(domain), successor);
    else tx.del(keys.certificateByDomain(domain));
  }
}

function parse(raw: string | null): CertificateRecord | null {
  return raw === null ? null : (JSON.parse(raw) as CertificateRecord);
}

/** A value another writer may have mangled counts as absent. */
function parseOrNull(raw: string | null): CertificateRecord | null {
  try {
    const value = parse(raw);
    return value && typeof value.fullchain_pem === "string" && typeof value.private_key_pem === "string" ? value : null;
  } catch {
    return null;
  }
}
