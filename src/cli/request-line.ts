/**
 * One request as `portcullis logs follow` prints it: time (UTC), client
 * address, method, host and path, status, duration, request id. The status
 * is coloured by class only for a terminal (2xx green, 3xx cyan, 4xx
 * yellow, 5xx red): piped output stays plain text.
 */
import type { RequestRecord } from "../consumers/request-log/record";

const CLASS_COLOURS: Record<number, string> = { 2: "32", 3: "36", 4: "33", 5: "31" };

export function colourStatus(status: number): string {
  const code = CLASS_COLOURS[Math.floor(status / 100)];
  return code ? `\x1b[${code}m${status}\x1b[0m` : String(status);
}

export function requestLine(record: RequestRecord, colour: boolean): string {
  const time = new Date(record.ts).toISOString().replace("T", " ").slice(0, 23);
  const status = colour ? colourStatus(record.status) : String(record.status);
  return `${time} ${record.ip} ${record.method} ${record.host}${record.path} ${status} ${Math.round(record.duration_ms)}ms ${record.request_id}`;
}
