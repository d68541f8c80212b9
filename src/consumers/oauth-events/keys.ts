/**
 * The OAuth flow trace's Redis keys. Every event of a sign-in goes to the
 * stream (for "what happened lately") and to its flow's list (for "show me
 * this sign-in"); the indexes find flows by client, user and address. Every
 * key expires LOG_RETENTION_HOURS after its last write.
 */
export const oauthEventKeys = {
  /** Every event, as field `event` (JSON); trimmed by MINID to the retention. */
  stream: "stream:oauth",
  /** List: one flow's events (JSON) in the order they happened. */
  flow: (flowId: string) => `oauth:flow:${flowId}`,
  /** Sorted sets of flow ids scored by the time of their latest event (ms). */
  byClient: (clientId: string) => `idx:oauth:client:${clientId}`,
  byUser: (user: string) => `idx:oauth:user:${user}`,
  byIp: (ip: string) => `idx:oauth:ip:${ip}`,
} as const;
