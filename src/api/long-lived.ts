/**
 * Bun.serve ends a response that stays quiet for its idleTimeout (10 s by
 * default on API_PORT), streamed or not. A route that streams for as long as
 * the client listens (the live tail) lifts that limit for its own request
 * only; apiFetch remembers which server each request came from.
 */
interface TimeoutControl {
  timeout(request: Request, seconds: number): void;
}

const servers = new WeakMap<Request, TimeoutControl>();

export function rememberServer(request: Request, server: TimeoutControl | undefined): void {
  if (server) servers.set(request, server);
}

/** No idle timeout for this request (a request relayed by the edge has the edge's CLIENT_IDLE_TIMEOUT instead). */
export function keepOpen(request: Request): void {
  servers.get(request)?.timeout(request, 0);
}
