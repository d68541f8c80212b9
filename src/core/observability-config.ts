/**
 * Request log, access log and node identity settings (docs/observability.md).
 * Pure: a reader in, settings out, problems appended.
 */
import { hostname } from "node:os";
import { wholeNumberReader } from "./whole-number-setting";

export type AccessLogFormat = "off" | "json" | "common";

export interface ObservabilitySettings {
  /** REQUEST_LOG: every request the edge answers is recorded in Redis (on by default). */
  readonly requestLog: boolean;
  /** LOG_RETENTION_HOURS: how long request records, their indexes and stats live. */
  readonly logRetentionHours: number;
  /** AUDIT_RETENTION_DAYS: how long audit entries (every API write) are kept. */
  readonly auditRetentionDays: number;
  /** REQUEST_LOG_QUEUE_MAX: records held in memory while Redis is slow or away; beyond it they are dropped and counted. */
  readonly requestLogQueueMax: number;
  /** ACCESS_LOG: one line per request on stdout, as JSON or Common Log Format. */
  readonly accessLog: AccessLogFormat;
  /** NODE_ID: names this gateway in request records (default: the machine's hostname). */
  readonly nodeId: string;
}

interface Reader {
  read(name: string): string | undefined;
  bool(name: string, fallback: boolean): boolean;
}

const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ["off", "json", "common"];

export function parseObservabilitySettings({ read, bool }: Reader, problems: string[]): ObservabilitySettings {
  const whole = wholeNumberReader(read, problems);
  const rawAccessLog = (read("ACCESS_LOG") ?? "off").toLowerCase();
  const accessLog = ACCESS_LOG_FORMATS.find((format) => format === rawAccessLog);
  if (!accessLog) problems.push(`ACCESS_LOG=${JSON.stringify(read("ACCESS_LOG"))}: expected off, json or common`);
  const nodeId = read("NODE_ID") ?? hostname();
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(nodeId)) problems.push(`NODE_ID=${JSON.stringify(nodeId)}: expected up to 64 letters, digits, dots, dashes or underscores`);
  return {
    requestLog: bool("REQUEST_LOG", true),
    logRetentionHours: whole("LOG_RETENTION_HOURS", 24, 1, 24 * 366, "hours"),
    auditRetentionDays: whole("AUDIT_RETENTION_DAYS", 90, 1, 3660, "days"),
    requestLogQueueMax: whole("REQUEST_LOG_QUEUE_MAX", 100_000, 1, 10_000_000, "records"),
    accessLog: accessLog ?? "off",
    nodeId,
  };
}
