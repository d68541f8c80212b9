/**
 * A TCP relay that requires a PROXY protocol header, strips it, and pipes the
 * connection to an internal listener; the client behind each relayed
 * connection is looked up synchronously in its ClientRegistry. The header
 * phase alone (ProxyHeaderReader) serves listeners that own their sockets.
 */
export {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_HIGH_WATER_BYTES,
  startProxyProtocolRelay,
  type ProxyProtocolRelay,
  type RelayedConnection,
  type RelayOptions,
  type RelayRejection,
  type RelayRejectReason,
} from "./relay";
export { ClientRegistry, type RelayedClient, type RelayEndpoint } from "./registry";
export { clientOf, ProxyHeaderReader, type HeaderReadResult } from "./header-reader";
