export { bunTlsOptions, MODERN_TLS12_CIPHERS, type HttpHandlers, type TlsCertificate, type TlsCertificates, type TlsListener, type TlsListenerBaseOptions } from "./tls-config";
export { TlsListenerSet, type TlsListenerOptions } from "./tls-listener-set";
export { DEFAULT_DRAIN_MS, migratesPendingConnections, TlsServerSet, type TlsServerSetOptions } from "./tls-server-set";
export { RelayDirection, type RelaySocket } from "./relay-direction";
