export { MODERN_TLS12_CIPHERS, TlsListenerSet, type HttpHandlers, type TlsCertificate, type TlsCertificates, type TlsListenerOptions } from "./tls-listener-set";
export { RelayDirection, type RelaySocket } from "./relay-direction";
