/**
 * Cluster registry timing (docs/configuration.md "Cluster"): how often a node
 * writes its heartbeat, when a silent node is shown down, and when it is
 * forgotten. Pure: a reader in, settings out, problems appended.
 */

export interface ClusterSettings {
  /** CLUSTER_HEARTBEAT_SECONDS: how often this node refreshes its registry entry. */
  readonly heartbeatSeconds: number;
  /** CLUSTER_NODE_DOWN_SECONDS: a node whose last heartbeat is older than this is shown `down`. */
  readonly downAfterSeconds: number;
  /** CLUSTER_NODE_FORGET_SECONDS: a node silent (or stopped) this long leaves the registry (its keys expire). */
  readonly forgetAfterSeconds: number;
}

interface Reader {
  read(name: string): string | undefined;
}

export function parseClusterSettings({ read }: Reader, problems: string[]): ClusterSettings {
  const whole = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected whole seconds from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const heartbeatSeconds = whole("CLUSTER_HEARTBEAT_SECONDS", 5, 1, 3600);
  // Three missed heartbeats by default: one late write (a busy event loop, a Redis hiccup) never shows a node down.
  const downAfterSeconds = whole("CLUSTER_NODE_DOWN_SECONDS", heartbeatSeconds * 3, 1, 86_400);
  const forgetAfterSeconds = whole("CLUSTER_NODE_FORGET_SECONDS", 600, 1, 30 * 86_400);
  if (downAfterSeconds <= heartbeatSeconds) {
    problems.push(`CLUSTER_NODE_DOWN_SECONDS=${downAfterSeconds}: expected more than CLUSTER_HEARTBEAT_SECONDS (${heartbeatSeconds}), or every node flaps between up and down`);
  }
  if (forgetAfterSeconds <= downAfterSeconds) {
    problems.push(`CLUSTER_NODE_FORGET_SECONDS=${forgetAfterSeconds}: expected more than CLUSTER_NODE_DOWN_SECONDS (${downAfterSeconds}), so a lost node is shown down before it is forgotten`);
  }
  return { heartbeatSeconds, downAfterSeconds, forgetAfterSeconds };
}
