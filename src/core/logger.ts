/**
 * Structured JSON logs on stdout. Secret-bearing fields are redacted by path so
 * that a careless `log.info({ token })` cannot leak a credential.
 */
import pino, { type Logger } from "pino";
import type { LogLevel } from "./config";

export type { Logger };

const SECRET_FIELDS = ["token", "password", "secret", "client_secret", "authorization", "private_key_pem", "admin_token"];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: "[redacted]" },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
