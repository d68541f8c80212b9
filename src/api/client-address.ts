/**
 * The API caller's address as the API sees it. On API_PORT that is the TCP
 * peer, which the listener hands over here (a client's own X-Real-IP is never
 * believed there); through an API hostname on the edge, the dispatcher has
 * already put the real client address (PROXY protocol, trusted
 * X-Forwarded-For, else the peer) in X-Real-IP, replacing whatever the client
 * sent.
 */
const peers = new WeakMap<Request, string>();

/** What the API_PORT listener (Bun.serve) tells about a request's peer. */
export interface PeerSource {
  requestIP?(request: Request): { address: string } | null;
}

/** Called for each request on API_PORT, before the API sees it; requests relayed by the edge come without a server. */
export function rememberPeer(request: Request, server: PeerSource | undefined): void {
  const address = server?.requestIP?.(request)?.address;
  if (address) peers.set(request, address.startsWith("::ffff:") ? address.slice(7) : address);
}

const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

export function apiClientIp(request: Request): string | null {
  const peer = peers.get(request);
  if (peer) return peer;
  const forwarded = request.headers.get("x-real-ip")?.trim() ?? "";
  return ADDRESS.test(forwarded) ? forwarded : null;
}
