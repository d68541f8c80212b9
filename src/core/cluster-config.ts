/**
 * The cluster's settings (docs/configuration.md, "Cluster"): its name and
 * default API key, and the registry's timing — how often a node writes its
 * heartbeat, when a silent node is shown down, and when it is forgotten.
 * Pure: a reader in, settings out, problems appended.
 */

import { wholeNumberReader } from "./whole-number-setting";

export interface ClusterSettings {
  /** CLUSTER_NAME: the cluster this gateway belongs to; a cluster key made for another cluster is refused. */
  readonly name: string;
  /** CLUSTER_API_KEY: a cluster key that always works on this cluster (besides those created through the API); unset: none. */
  readonly apiKey?: string;
  /** CLUSTER_HEARTBEAT_SECONDS: how often this node refreshes its registry entry. */
  readonly heartbeatSeconds: number;
  /** CLUSTER_NODE_DOWN_SECONDS: a node whose last heartbeat is older than this is shown `down`. */
  readonly downAfterSeconds: number;
  /** CLUSTER_NODE_FORGET_SECONDS: a node silent (or stopped) this long leaves the registry (its keys expire). */
  readonly forgetAfterSeconds: number;
}

/** What the cluster registry needs of the settings. */
export type RegistryTiming = Pick<ClusterSettings, "heartbeatSeconds" | "downAfterSeconds" | "forgetAfterSeconds">;

interface Reader {
  read(name: string): string | undefined;
}

export const CLUSTER_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
/** Long enough that guessing it is hopeless; the generated keys are 68 characters. */
export const CLUSTER_API_KEY_MIN_LENGTH = 32;

export function parseClusterSettings({ read }: Reader, problems: string[]): ClusterSettings {
  const name = read("CLUSTER_NAME") ?? "default";
  if (!CLUSTER_NAME_PATTERN.test(name)) problems.push(`CLUSTER_NAME=${JSON.stringify(name)}: expected 1 to 63 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit`);
  const apiKey = read("CLUSTER_API_KEY");
  // The value is never echoed: it is a secret.
  if (apiKey !== undefined && (apiKey.length < CLUSTER_API_KEY_MIN_LENGTH || !/^[\x21-\x7e]+$/.test(apiKey))) {
    problems.push(`CLUSTER_API_KEY: expected at least ${CLUSTER_API_KEY_MIN_LENGTH} printable characters without spaces (portcullis cluster key create makes one)`);
  }
  return { name, ...(apiKey === undefined ? {} : { apiKey }), ...parseRegistryTiming(read, problems) };
}

function parseRegistryTiming(read: Reader["read"], problems: string[]): RegistryTiming {
  const whole = wholeNumberReader(read, problems);
  const heartbeatSeconds = whole("CLUSTER_HEARTBEAT_SECONDS", 5, 1, 3600, "seconds");
  // Three missed heartbeats by default: one late write (a busy event loop, a Redis hiccup) never shows a node down.
  const downAfterSeconds = whole("CLUSTER_NODE_DOWN_SECONDS", heartbeatSeconds * 3, 1, 86_400, "seconds");
  const forgetAfterSeconds = whole("CLUSTER_NODE_FORGET_SECONDS", 600, 1, 30 * 86_400, "seconds");
  if (downAfterSeconds <= heartbeatSeconds) {
    problems.push(`CLUSTER_NODE_DOWN_SECONDS=${downAfterSeconds}: expected more than CLUSTER_HEARTBEAT_SECONDS (${heartbeatSeconds}), or every node flaps between up and down`);
  }
  if (forgetAfterSeconds <= downAfterSeconds) {
    problems.push(`CLUSTER_NODE_FORGET_SECONDS=${forgetAfterSeconds}: expected more than CLUSTER_NODE_DOWN_SECONDS (${downAfterSeconds}), so a lost node is shown down before it is forgotten`);
  }
  return { heartbeatSeconds, downAfterSeconds, forgetAfterSeconds };
}
