/**
 * What `apply` would do: the file's entries against what the gateway has,
 * kind by kind. Pure, so the dry run and the real run print the same plan.
 *
 * An entry's fields are what it sets; a field it leaves out keeps the value the
 * gateway has (a new resource gets the API's default). Resources the file does
 * not name are kept, unless `prune` asks to delete those of a kind the file
 * lists (a kind it does not mention is never touched).
 */
import { KEY_FIELD, KINDS, type ConfigDocument, type Kind } from "./config-document";

export type Entry = Record<string, unknown>;
/** What the gateway has, in the file's shape, for the kinds that were read. */
export type GatewayState = Partial<Record<Kind, Entry[]>>;

export interface Change {
  readonly kind: Kind;
  readonly name: string;
  readonly action: "create" | "update" | "delete";
  /** create: the whole entry; update: only the fields that change. */
  readonly body?: Entry;
  /** update: each changed field with its value before. */
  readonly before?: Entry;
}

export interface ApplyPlan {
  readonly changes: Change[];
  readonly unchanged: number;
  /** On the gateway, not in the file, and kept (prune is off). */
  readonly kept: { kind: Kind; name: string }[];
  /** Entries apply cannot bring about, with why (e.g. a certificate's names cannot change). */
  readonly conflicts: { kind: Kind; name: string; detail: string }[];
}

/** Fields a create takes that are not stored as such (how to request the proxy's certificate). */
const CREATE_ONLY: Partial<Record<Kind, readonly string[]>> = {
  proxies: ["staging", "cert_email"],
  certificates: ["staging", "acme", "key_type", "email"],
  // Ports change through /services/{name}/ports, a build only on create.
  docker_services: ["port_configs", "expose_ports", "dockerfile_path"],
};

export function planApply(desired: ConfigDocument, current: GatewayState, options: { prune: boolean }): ApplyPlan {
  const changes: Change[] = [];
  const kept: ApplyPlan["kept"] = [];
  const conflicts: ApplyPlan["conflicts"] = [];
  const deletes: Change[] = [];
  let unchanged = 0;
  for (const kind of KINDS) {
    const wanted = desired[kind] as Entry[] | undefined;
    if (wanted === undefined) continue;
    const key = KEY_FIELD[kind];
    const have = new Map((current[kind] ?? []).map((entry) => [String(entry[key]), entry]));
    for (const entry of wanted) {
      const name = String(entry[key]);
      const existing = have.get(name);
      have.delete(name);
      if (!existing) {
        changes.push({ kind, name, action: "create", body: entry });
        continue;
      }
      if (kind === "certificates") {
        const problem = certificateDrift(entry, existing);
        if (problem) conflicts.push({ kind, name, detail: problem });
        else unchanged++;
        continue;
      }
      const body: Entry = {};
      const before: Entry = {};
      for (const [field, value] of Object.entries(entry)) {
        if (field === key || CREATE_ONLY[kind]?.includes(field)) continue;
        if (!Bun.deepEquals(value, existing[field])) {
          body[field] = value;
          before[field] = existing[field];
        }
      }
      if (Object.keys(body).length === 0) unchanged++;
      else changes.push({ kind, name, action: "update", body, before });
    }
    for (const name of have.keys()) {
      if (options.prune) deletes.push({ kind, name, action: "delete" });
      else kept.push({ kind, name });
    }
  }
  // Deletes last and in reverse kind order: a route goes before the proxy or service it names.
  deletes.sort((a, b) => KINDS.indexOf(b.kind) - KINDS.indexOf(a.kind));
  return { changes: [...changes, ...deletes], unchanged, kept, conflicts };
}

/** A certificate is requested once: different names cannot be applied to it, only to a new one. */
function certificateDrift(entry: Entry, existing: Entry): string | null {
  const wanted = [...((entry.domains as string[]) ?? [])].map((d) => d.toLowerCase()).sort();
  const have = [...((existing.domains as string[]) ?? [])].sort();
  if (Bun.deepEquals(wanted, have)) return null;
  return `exists for ${have.join(", ")}, the file asks for ${wanted.join(", ")}: delete it (portcullis cert delete) and apply again to request the new names`;
}
