/**
 * Whether another program holds a host port: bind it for a moment on the
 * address an allocation would use, and close at once. A record in Redis says
 * who we gave a port to; only the kernel knows who else has it.
 */
import type { BindAddress, PortProtocol } from "./port-ranges";

/** Null when the port could be bound, else why not (e.g. "in use on the host (EADDRINUSE at 127.0.0.1:11000/tcp)"). */
export async function hostPortBusyReason(port: number, bind: BindAddress, protocol: PortProtocol = "tcp"): Promise<string | null> {
  try {
    if (protocol === "udp") {
      const socket = await Bun.udpSocket({ hostname: bind, port });
      socket.close();
    } else {
      const listener = Bun.listen({ hostname: bind, port, socket: { data() {} } });
      listener.stop(true);
    }
    return null;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = typeof code === "string" ? code : (err as Error).message;
    if (code === "EADDRINUSE") return `port ${port} is in use on the host (${why} at ${bind}:${port}/${protocol})`;
    return `port ${port} cannot be bound on the host (${why} at ${bind}:${port}/${protocol})`;
  }
}
