/**
 * Ownership and cascade delete. Every resource a token owns is listed in the
 * set `owner:{token hash}` as `kind:id`; deleting the token deletes all of them
 * in the same transaction. A resource type joins by registering a kind.
 */
import type { ChainableCommander } from "ioredis";
import { keys } from "./keys";

export interface OwnedResourceKind {
  readonly kind: string;
  /**
   * Reads what it needs, then queues on `tx` every command that removes these
   * resources (their records, indexes and any event announcing the removal).
   * May return work to do once that transaction has committed (e.g. removing
   * the containers of deleted Docker services).
   */
  queueDelete(tx: ChainableCommander, ids: readonly string[]): Promise<void | (() => void)>;
}

const SEPARATOR = ":";

export function ownershipMember(kind: string, id: string): string {
  return `${kind}${SEPARATOR}${id}`;
}

/** `kind:id` back into its parts; the id may itself contain ":". */
export function parseOwnershipMember(member: string): { kind: string; id: string } | undefined {
  const at = member.indexOf(SEPARATOR);
  return at < 0 ? undefined : { kind: member.slice(0, at), id: member.slice(at + 1) };
}

/** Queues the bookkeeping for a newly created resource. */
export function queueOwn(tx: ChainableCommander, ownerHash: string, kind: string, id: string): void {
  tx.sadd(keys.ownedBy(ownerHash), ownershipMember(kind, id));
}

/** Queues the bookkeeping for a resource deleted on its own. */
export function queueDisown(tx: ChainableCommander, ownerHash: string, kind: string, id: string): void {
  tx.srem(keys.ownedBy(ownerHash), ownershipMember(kind, id));
}

export class OwnershipRegistry {
  private readonly kinds = new Map<string, OwnedResourceKind>();

  register(kind: OwnedResourceKind): void {
    if (kind.kind.includes(SEPARATOR)) throw new Error(`resource kind ${kind.kind} must not contain "${SEPARATOR}"`);
    if (this.kinds.has(kind.kind)) throw new Error(`resource kind ${kind.kind} is registered twice`);
    this.kinds.set(kind.kind, kind);
  }

  /** Queues the deletion of everything in an owner set; members of unknown kinds are left in place. */
  async queueCascade(tx: ChainableCommander, members: readonly string[], afterCommit: (() => void)[] = []): Promise<Record<string, number>> {
    const byKind = new Map<string, string[]>();
    for (const member of members) {
      const at = member.indexOf(SEPARATOR);
      if (at < 0) continue;
      const kind = member.slice(0, at);
      const ids = byKind.get(kind) ?? [];
      ids.push(member.slice(at + 1));
      byKind.set(kind, ids);
    }
    const counts: Record<string, number> = {};
    for (const [kind, ids] of byKind) {
      const handler = this.kinds.get(kind);
      if (!handler) throw new Error(`no handler registered for owned resources of kind "${kind}"`);
      const after = await handler.queueDelete(tx, ids);
      if (after) afterCommit.push(after);
      counts[kind] = ids.length;
    }
    return counts;
  }
}
