/**
 * One log line per connection a PROXY protocol listener refuses, saying why,
 * and none on the happy path. Refusals cost an attacker nothing, so lines are
 * capped per listener (LOG_BURST per LOG_WINDOW_MS); the count of those left
 * out is logged when the next window opens.
 */
import type { RelayRejection, RelayRejectReason } from "../../native-tls/relay";
import type { Logger } from "../core/logger";

export const LOG_WINDOW_MS = 10_000;
export const LOG_BURST = 20;

const MESSAGES: Record<RelayRejectReason, string> = {
  untrusted_source: "PROXY protocol: refused a connection from a source outside PROXY_PROTOCOL_TRUSTED_CIDRS",
  malformed_header: "PROXY protocol: refused a connection whose PROXY header is missing or malformed",
  header_timeout: "PROXY protocol: refused a connection whose PROXY header did not arrive in time (PROXY_PROTOCOL_TIMEOUT)",
  closed_before_header: "PROXY protocol: the peer closed the connection before its PROXY header was complete",
  upstream_unavailable: "PROXY protocol: cannot reach the internal listener; connection closed",
};

export function rejectionLogger(log: Logger, setting: string): (rejection: RelayRejection) => void {
  let windowStart = 0;
  let logged = 0;
  let suppressed = 0;
  return (rejection) => {
    // A TCP health check connects and closes without a byte: not worth a warning.
    const quiet = rejection.reason === "closed_before_header" && rejection.bytesReceived === 0;
    if (quiet && !log.isLevelEnabled("debug")) return;
    const now = Date.now();
    if (now - windowStart >= LOG_WINDOW_MS) {
      if (suppressed > 0) log.warn({ listener: setting, suppressed }, "PROXY protocol: more refused connections were not logged");
      windowStart = now;
      logged = 0;
      suppressed = 0;
    }
    if (logged >= LOG_BURST) {
      suppressed++;
      return;
    }
    logged++;
    const fields = {
      listener: setting,
      reason: rejection.reason,
      peer: formatPeer(rejection.peer.address, rejection.peer.port),
      ...(rejection.code ? { code: rejection.code } : {}),
      detail: rejection.detail,
      bytes_received: rejection.bytesReceived,
    };
    if (quiet) log.debug(fields, MESSAGES[rejection.reason]);
    else if (rejection.reason === "upstream_unavailable") log.error(fields, MESSAGES[rejection.reason]);
    else log.warn(fields, MESSAGES[rejection.reason]);
  };
}

function formatPeer(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}
