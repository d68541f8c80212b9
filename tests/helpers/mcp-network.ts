/**
 * The network an MCP client *process* (mcp-remote, the Inspector CLI, the
 * conformance runner) sees in tests, since no DNS here points a name at the
 * gateway and those programs take no fetch of ours:
 *
 * - `startConnectProxy`: an HTTP CONNECT proxy, as in a corporate network.
 *   Clients that honour HTTPS_PROXY (mcp-remote with --enable-proxy, the
 *   Inspector) reach `*.<domain>:443` through it, and it opens the tunnel to
 *   the gateway's HTTPS port: the TLS session is the client's own, end to
 *   end, so the client checks the gateway's certificate itself. Every other
 *   destination is refused (nothing leaves loopback).
 * - `startBearerForwarder`: a plain-HTTP stand-in for an MCP URL that adds a
 *   bearer token to each request and passes it on to the gateway over TLS,
 *   for a client that cannot send headers of its own (the conformance
 *   runner). Everything else — method, path, headers, body, streamed answers —
 *   goes through untouched.
 */
import { createServer, connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface ConnectProxy {
  /** `http://127.0.0.1:<port>`, for HTTPS_PROXY. */
  readonly url: string;
  /** Every CONNECT target asked for, as `host:port`, in order. */
  readonly tunnels: string[];
  stop(): Promise<void>;
}

/** Tunnels `*.<domainSuffix>:443` to `127.0.0.1:<httpsPort>`; refuses anything else with 403. */
export async function startConnectProxy(domainSuffix: string, httpsPort: number): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 8192) client.end("HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n");
        return;
      }
      client.off("data", onData);
      const [method, target] = head.subarray(0, head.indexOf("\r\n")).toString("latin1").split(" ");
      const rest = head.subarray(end + 4);
      const match = /^([a-z0-9.-]+):(\d+)$/i.exec(target ?? "");
      tunnels.push(target ?? "");
      if (method !== "CONNECT" || !match || !match[1]!.toLowerCase().endsWith(domainSuffix) || match[2] !== "443") {
        client.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      const upstream = connect(httpsPort, "127.0.0.1", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      open.add(upstream);
      upstream.on("close", () => {
        open.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface BearerForwarder {
  /** `http://127.0.0.1:<port>`: give the client this origin plus the MCP path. */
  readonly url: string;
  /** Every request it carried: method, path and the status the gateway answered. */
  readonly exchanges: Array<{ method: string; path: string; status: number }>;
  stop(): void;
}

/**
 * Sends every request to `https://<host><path>` at the gateway, with
 * `Authorization: Bearer <token>` set and the gateway's certificate trusted.
 * The Host becomes the MCP server's name (the gateway routes on it); Origin
 * and every other header are the client's.
 */
export function startBearerForwarder(options: { host: string; httpsPort: number; ca: string; token: string }): BearerForwarder {
  const exchanges: BearerForwarder["exchanges"] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const headers = new Headers(request.headers);
      headers.set("host", options.host);
      headers.set("authorization", `Bearer ${options.token}`);
      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      const response = await fetch(`https://127.0.0.1:${options.httpsPort}${url.pathname}${url.search}`, {
        method: request.method,
        headers,
        body: hasBody ? await request.arrayBuffer() : undefined,
        redirect: "manual",
        signal: request.signal,
        tls: { ca: options.ca, serverName: options.host },
      } as RequestInit);
      exchanges.push({ method: request.method, path: url.pathname, status: response.status });
      // Bun's fetch has already decoded the body: the length and coding it was sent with no longer apply.
      const answer = new Headers(response.headers);
      answer.delete("content-encoding");
      answer.delete("content-length");
      return new Response(response.body, { status: response.status, headers: answer });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, exchanges, stop: () => void server.stop(true) };
}
