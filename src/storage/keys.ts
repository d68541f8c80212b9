/**
 * The Redis key schema (spec: "Redis Storage Schema"). Every key the gateway
 * reads or writes is built here and nowhere else.
 */
export const keys = {
  token: (name: string) => `token:${name}`,
  tokenByHash: (hash: string) => `token:hash:${hash}`,
  /** Set of token names, so listing never scans the keyspace. */
  tokenNames: "tokens:names",
  /** Set of `kind:id` members naming every resource a token owns (for cascade delete). */
  ownedBy: (ownerHash: string) => `owner:${ownerHash}`,

  /** A cluster API key's record (JSON, the key's hash but never the key). */
  clusterKey: (name: string) => `cluster:keys:key:${name}`,
  /** A cluster API key's name by the sha256 of the key, for bearer lookup. */
  clusterKeyByHash: (hash: string) => `cluster:keys:hash:${hash}`,
  /** Set of cluster API key names. */
  clusterKeyNames: "cluster:keys:names",

  proxy: (hostname: string) => `proxy:${hostname}`,
  /** Set of proxy hostnames. */
  proxyHostnames: "proxies:hostnames",
  /**
   * Who is behind a PROXY protocol connection (60 s TTL): `serverPort` is the
   * internal listener's, `clientPort` the relay's end of that connection.
   */
  proxyClient: (serverPort: number, clientPort: number) => `proxy:client:${serverPort}:${clientPort}`,

  route: (id: string) => `route:${id}`,
  routeUnique: (path: string, priority: number) => `route:unique:${path}:${priority}`,
  routePriority: (priority: number, id: string) => `route:priority:${priority}:${id}`,
  /** Set of route ids. */
  routeIds: "routes:ids",

  /** Service name → URL, for every service type (spec "Service Keys"); what routes and `service:` proxies resolve. */
  serviceUrl: (name: string) => `service:url:${name}`,
  /** An external service's record (JSON). */
  serviceExternal: (name: string) => `service:external:${name}`,
  /** Set of external service names. */
  serviceExternalNames: "services:external",
  /** A Docker service's record (JSON); read here, written by the Docker service manager. */
  dockerService: (name: string) => `docker_service:${name}`,
  /** Set of Docker service names. */
  dockerServiceNames: "docker_services:names",
  /** Held (a random value, with an expiry) while a Docker service's container is being recreated; not under docker_service:* (which is scanned for records). */
  dockerServiceChange: (name: string) => `docker_services:changing:${name}`,

  /** A host port's allocation (spec "Port Management Keys"): one per port, whatever its bind address. */
  port: (port: number) => `port:${port}`,
  /** Hash of a service's allocations: port name → allocation JSON. */
  servicePorts: (service: string) => `service:ports:${service}`,
  /** Sorted set of allocated host ports (score = port), so listing never scans the keyspace. */
  allocatedPorts: "ports:allocated",

  /** A registered protected resource by its canonical URI (spec "Resource Keys (MCP)"). */
  resource: (uri: string) => `resource:${uri}`,
  /** Set of registered resource URIs. */
  resourceUris: "resources:uris",

  certificate: (name: string) => `cert:${name}`,
  /** Domain (exact, or `*.example.com`) → the name of the certificate that serves it. */
  certificateByDomain: (domain: string) => `cert:domain:${domain}`,
  /** Set of certificate names. */
  certificateNames: "certs:names",
  /** The self-signed certificate for names without one, shared by every node with this SELF_SIGNED_CN. */
  selfSignedCertificate: (commonName: string) => `cert:self-signed:${commonName}`,
  /** The cluster's local CA (root certificate and its key, JSON), claimed once with SET NX so every node signs with the same one. Secret. */
  localCa: "cert:local-ca",
  /** Progress of the latest issuance or renewal of a certificate (spec "Certificate Keys"). */
  certificateStatus: (name: string) => `cert:status:${name}`,
  /** Held by the one node issuing or renewing the certificate; expires if that node dies. */
  certificateLock: (name: string) => `cert:lock:${name}`,
  /** Issuance jobs waiting for a worker on any node (a list, oldest first). */
  certificateJobs: "cert:jobs",
  /** Jobs to run later (failed issuances and renewals backing off): a sorted set scored by due time in ms. */
  certificateJobsLater: "cert:jobs:later",
  /** Held by the node running a renewal sweep, so one node per interval enqueues renewals. */
  renewalSweepLock: "cert:renewal:sweep",
  /** HTTP-01 key authorization for a challenge token; any node answers the CA from it. */
  acmeChallenge: (token: string) => `acme:challenge:${token}`,
  /** An ACME account key (PEM) for one (email, directory) pair; the id is a hash of both. */
  acmeAccount: (id: string) => `acme:account:${id}`,

  // OAuth (spec "OAuth Keys"); each key expires with what it holds.
  /** A registered client (TTL OAUTH_CLIENT_LIFETIME, none when clients never expire). */
  oauthClient: (clientId: string) => `oauth:client:${clientId}`,
  /** A login in progress, from /authorize to /callback (TTL OAUTH_SESSION_TIMEOUT); `state` is the one sent upstream. */
  oauthState: (state: string) => `oauth:state:${state}`,
  /** An authorization code (60 s), then a tombstone naming the grant it started, so a replay revokes that grant. */
  oauthCode: (code: string) => `oauth:code:${code}`,
  /** An access token's record by `jti` (TTL: until the token expires). */
  oauthToken: (jti: string) => `oauth:token:${jti}`,
  /** A refresh token's record by the SHA-256 of the token (TTL OAUTH_REFRESH_TOKEN_LIFETIME). */
  oauthRefresh: (tokenHash: string) => `oauth:refresh:${tokenHash}`,
  /** One grant (a login's token family): its live refresh token and every access token `jti` issued under it. */
  oauthGrant: (grantId: string) => `oauth:grant:${grantId}`,
  /** Sorted set of the access token `jti`s issued under a grant, scored by their expiry (ms), so revoking the grant finds them all. */
  oauthGrantTokens: (grantId: string) => `oauth:grant_tokens:${grantId}`,
  /** Set of access token `jti`s issued to a user (`sub`). */
  oauthUserTokens: (user: string) => `oauth:user_tokens:${user}`,
  /** Revoked access token `jti`s scored by their expiry (ms), which every node's edge keeps in memory. */
  oauthRevoked: "oauth:revoked",
  /** Signing keys: a hash of `kid` → key record; the current key's `kid` under oauthSigningKeyCurrent. */
  oauthSigningKeys: "oauth:signing_keys",
  oauthSigningKeyCurrent: "oauth:signing_key:current",
  /** A user's remembered consent to one client (TTL OAUTH_CONSENT_LIFETIME): the scopes and resources approved. */
  oauthConsent: (sub: string, clientIdHash: string) => `oauth:consent:${sub}:${clientIdHash}`,
  /** A sign-in waiting on the consent page, between /callback and the user's answer (TTL OAUTH_SESSION_TIMEOUT). */
  oauthConsentPending: (id: string) => `oauth:consent_pending:${id}`,
  /** Client registrations from one IP in the current minute. */
  oauthRegistrationRate: (ip: string, minute: number) => `oauth:ratelimit:register:${ip}:${minute}`,
  /** Calls of one caller to one MCP rate limit in one fixed window; the digest names the proxy, the limit and the caller (src/mcp/rate-limit). */
  mcpRateCount: (counterDigest: string, window: number) => `mcp:ratelimit:${counterDigest}:${window}`,

  /** The key sealing MCP session ids (base64url, 32 bytes), made by the first node to start, read by every other. */
  mcpSessionKey: "mcp:session_key",

  /** One gateway node's registry entry (a hash: its record as JSON, instance, state, heartbeat time); expires CLUSTER_NODE_FORGET_SECONDS after its last write. */
  clusterNode: (nodeId: string) => `cluster:node:${nodeId}`,
  /** Sorted set of registered node ids scored by their last heartbeat (ms), so listing never scans; pruned and expiring like the entries. */
  clusterNodes: "cluster:nodes",

  /** Every configuration change, in order; each gateway node follows it (spec "Workflow Stream Keys"). */
  workflowStream: "events:workflow",
  /** The consumer group on workflowStream through which each event's side effects are claimed by one node (spec "Consumer Group"). */
  workflowGroup: "workflow-group",
  /** Events whose handler kept failing, with where and how often they were tried (a bounded stream). */
  workflowDeadLetters: "events:workflow:dead",
  /** Set when an event's side effect is done (TTL a day), so a redelivered event is acknowledged without doing it again. */
  workflowDone: (eventId: string) => `workflow:done:${eventId}`,
  /** Held (PX WORKFLOW_CLAIM_IDLE_MS) by the one consumer running an event's handler, so a consumer that claimed the same entry meanwhile does not run it too. */
  workflowLease: (eventId: string) => `workflow:lease:${eventId}`,
  /** Pub/sub channel: `{ticket, ok}` after each attempt at an event that carries a ticket, for the API node waiting on it. */
  workflowSettledChannel: "workflow:settled",
} as const;
