/**
 * Where an MCP client publishes its Client ID Metadata Document: an HTTPS
 * server on loopback (`https://localhost:<port>/…`) with a certificate from
 * a CA the gateway was told to trust. The document's URL is the client's
 * client_id; the authorization server fetches it instead of a registration.
 */
import type { TestCa } from "./test-ca";

export interface ClientMetadataServer {
  /** The client_id: the document's URL. */
  readonly clientId: string;
  /** How often the document was fetched. */
  readonly fetches: () => number;
  stop(): void;
}

/** Serves `metadata` (client_id added) at `https://localhost:<port><path>`. */
export async function startClientMetadataServer(ca: TestCa, metadata: Record<string, unknown>, path = "/mcp-client.json"): Promise<ClientMetadataServer> {
  const certificate = await ca.issue("localhost", ["localhost"]);
  let fetches = 0;
  let clientId = "";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: certificate.fullchain_pem, key: certificate.private_key_pem },
    fetch(request) {
      if (new URL(request.url).pathname !== path) return new Response("Not Found", { status: 404 });
      fetches++;
      return Response.json({ client_id: clientId, ...metadata }, { headers: { "cache-control": "max-age=300" } });
    },
  });
  clientId = `https://localhost:${server.port}${path}`;
  return { clientId, fetches: () => fetches, stop: () => void server.stop(true) };
}
