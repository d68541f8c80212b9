/**
 * Every credential the API accepts, in the order they are tried: API tokens
 * (`token:hash:*`), cluster API keys created through the API
 * (`cluster:keys:hash:*`), then CLUSTER_API_KEY. A cluster key made for
 * another cluster (CLUSTER_NAME) is refused like an unknown one.
 */
import { hashApiToken, secretsEqual } from "../core/api-token";
import type { ClusterSettings } from "../core/cluster-config";
import { ApiError } from "../core/errors";
import type { ClusterKeyRepository } from "../storage/cluster-key-repository";
import type { TokenRepository } from "../storage/token-repository";
import { callerOf, type Caller } from "./caller";

/** The name CLUSTER_API_KEY goes by in the audit log and in listings. */
export const DEFAULT_CLUSTER_KEY_NAME = "CLUSTER_API_KEY";

export class ApiCredentials {
  private readonly defaultKeyHash?: string;

  constructor(
    private readonly tokens: TokenRepository,
    private readonly clusterKeys?: ClusterKeyRepository,
    private readonly cluster?: ClusterSettings,
  ) {
    if (cluster?.apiKey) this.defaultKeyHash = hashApiToken(cluster.apiKey);
  }

  async resolve(presented: string): Promise<Caller> {
    const hash = hashApiToken(presented);
    const token = await this.tokens.getByHash(hash);
    if (token && secretsEqual(token.token, presented)) return callerOf(token);
    if (this.clusterKeys && this.cluster) {
      const key = await this.clusterKeys.getByHash(hash);
      // Equal-length digests, compared in constant time.
      if (key && secretsEqual(key.hash, hash)) {
        if (key.cluster !== this.cluster.name) throw new ApiError("unauthorized", "this cluster key belongs to another cluster");
        return clusterCaller(`cluster-key:${key.name}`, hash);
      }
      if (this.defaultKeyHash && secretsEqual(this.defaultKeyHash, hash)) return clusterCaller(`cluster-key:${DEFAULT_CLUSTER_KEY_NAME}`, hash);
    }
    throw new ApiError("unauthorized", "invalid or revoked token");
  }
}

function clusterCaller(name: string, hash: string): Caller {
  return { name, hash, role: "cluster", isAdmin: true, seesAll: true };
}

/**
 * The credentials the API registered for a token repository. Routes call
 * authenticate(request, deps.tokens) everywhere; keying the registry by that
 * repository lets cluster keys work there (and in the audit hook) without
 * every route being handed another dependency.
 */
const registered = new WeakMap<TokenRepository, ApiCredentials>();

export function registerCredentials(tokens: TokenRepository, credentials: ApiCredentials): void {
  registered.set(tokens, credentials);
}

export function credentialsFor(tokens: TokenRepository): ApiCredentials {
  return registered.get(tokens) ?? new ApiCredentials(tokens);
}
