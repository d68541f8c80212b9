/**
 * What every TLS listener here shares: the certificate set, the HTTP handlers
 * its Bun.serve generations run, the cipher policy, and the interface the
 * HTTPS edge uses whichever listener it picked.
 */
import type { Server, WebSocketHandler } from "bun";

/** A PEM certificate chain (leaf first) and its private key. */
export interface TlsCertificate {
  readonly cert: string;
  readonly key: string;
}

export interface TlsCertificates {
  /** Served when the client sends no SNI or a name without a certificate. */
  readonly fallback: TlsCertificate;
  /** Server name (exact, or `*.example.com` for one label) → certificate. */
  readonly byServerName: ReadonlyMap<string, TlsCertificate>;
}

/** What each internal server does with HTTP: the same for every generation. */
export interface HttpHandlers<WS> {
  fetch(request: Request, server: Server<WS>): Response | undefined | Promise<Response | undefined>;
  readonly websocket: WebSocketHandler<WS>;
  readonly idleTimeout?: number;
  readonly maxRequestBodySize?: number;
  /** The answer when `fetch` throws; the servers never run in development mode (no source in error pages). */
  readonly error?: (error: Error) => Response;
}

export interface TlsListenerBaseOptions<WS> {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly http: HttpHandlers<WS>;
  /** The TCP front of TlsListenerSet shares the port with other processes (SO_REUSEPORT); TlsServerSet always does. */
  readonly reusePort?: boolean;
  /**
   * Who the client is, given the TCP peer (default: the peer's address). A
   * PROXY protocol relay in front of the listener maps its connection back to
   * the client here.
   */
  readonly identifyClient?: (peerAddress: string, peerPort: number) => string;
}

/**
 * TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only (Mozilla's
 * "intermediate" list without DHE, which BoringSSL lacks). TLS 1.3 suites are
 * all AEAD and not configurable; TLS 1.0/1.1 are refused by Bun's default
 * minimum version (tests check it).
 */
export const MODERN_TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** A TLS port whose certificates can change while it serves. */
export interface TlsListener<WS> {
  readonly port: number;
  /** Bun.serve instances running: the current one plus retired ones still holding connections. */
  readonly generationCount: number;
  /** Whether a server from before the last change may still accept a new connection (and give it the old certificates). */
  readonly draining: boolean;
  /** New connections get these certificates; open ones keep theirs. Throws, keeping the previous set, if Bun refuses it. */
  setCertificates(certificates: TlsCertificates): void;
  /** The client's address for a request one of its servers received. */
  clientAddress(request: Request, server: Server<WS>): string;
  /** Requests its servers are answering now (streaming responses included, WebSockets not). */
  readonly pendingRequests: number;
  /**
   * The first step of going away: every server answers with `Connection:
   * close` from now on (native-tls/drain) and certificate changes are ignored;
   * new connections are still accepted until stop(). `onRequest` is told of
   * each request that arrives meanwhile.
   */
  drain(onRequest?: () => void): void;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** Bun.serve's `tls` option for a certificate set: the fallback first, then one entry per server name. */
export function bunTlsOptions(certificates: TlsCertificates) {
  const entry = (c: TlsCertificate, serverName?: string) => ({ serverName, cert: c.cert, key: c.key, ciphers: MODERN_TLS12_CIPHERS });
  const tls = [entry(certificates.fallback)];
  for (const [name, certificate] of certificates.byServerName) tls.push(entry(certificate, name));
  return tls;
}
