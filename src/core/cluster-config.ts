/**
 * Cluster identity and its default API key (docs/configuration.md, "Cluster").
 * Pure: a reader in, settings out, problems appended.
 */

export interface ClusterSettings {
  /** CLUSTER_NAME: the cluster this gateway belongs to; a cluster key made for another cluster is refused. */
  readonly name: string;
  /** CLUSTER_API_KEY: a cluster key that always works on this cluster (besides those created through the API); unset: none. */
  readonly apiKey?: string;
}

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
  return apiKey === undefined ? { name } : { name, apiKey };
}
