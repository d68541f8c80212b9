import { OWN_RESPONSE_HEADERS } from "../core/own-response";

/**
 * Options every Bun.serve of the gateway starts with: never development mode
 * (its error page shows source lines and the working directory), and a plain
 * JSON 500 if a handler throws after all.
 */
export const SERVE_DEFAULTS = {
  development: false,
  // Bun.serve outside development mode sets SO_REUSEPORT unless told not to (Bun 1.4.5): a second gateway, or any
  // process of this user, could then bind the same port silently and take some of its connections. The HTTPS
  // certificate swap (native-tls TlsServerSet) asks for it on purpose, and so do the worker processes of one
  // supervisor (src/workers/), which checks beforehand that nothing else holds their ports.
  reusePort: false,
  error: (): Response =>
    Response.json({ error: "internal_error", detail: "internal error; see the gateway log" }, { status: 500, headers: OWN_RESPONSE_HEADERS }),
} as const;

/** Binding errors say which setting to change, instead of a bare EADDRINUSE. */
export class ListenError extends Error {
  override name = "ListenError";
}

/**
 * The variable naming the address each port setting binds: an address that is
 * not this machine's is that variable's fault, not the port's.
 */
const BIND_SETTING: Readonly<Record<string, string>> = {
  HTTP_PORT: "SERVER_HOST",
  HTTPS_PORT: "SERVER_HOST",
  PROXY_PROTOCOL_PORT: "SERVER_HOST",
  API_PORT: "API_BIND",
  METRICS_PORT: "METRICS_BIND",
};

export function listenOrExplain<T>(setting: string, bind: () => T): T {
  try {
    return bind();
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    const message = (err as Error).message;
    if (code === "EADDRNOTAVAIL" || /address not available|EADDRNOTAVAIL/i.test(message)) {
      const address = BIND_SETTING[setting] ?? setting;
      throw new ListenError(
        `${address}: the address is not one of this machine's (EADDRNOTAVAIL) while binding ${setting}; set ${address} to a local address, or 0.0.0.0 for all`,
      );
    }
    if (code === "EADDRINUSE" || /in use/i.test(message)) {
      throw new ListenError(`${setting}: the port is already in use by another process; stop it or choose another ${setting}`);
    }
    if (code === "EACCES" || /permission denied|EACCES/i.test(message)) {
      throw new ListenError(
        `${setting}: permission denied binding the port; ports below 1024 need root or CAP_NET_BIND_SERVICE (or choose ${setting}=8080)`,
      );
    }
    throw new ListenError(`${setting}: cannot listen: ${message}`);
  }
}
