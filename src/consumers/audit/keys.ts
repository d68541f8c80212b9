/** The audit log's one key: a stream trimmed by MINID to AUDIT_RETENTION_DAYS (and expiring that long after its last write). */
export const auditKeys = {
  stream: "stream:audit",
} as const;
