/**
 * Ports picked ahead of time, for the few cases that need one.
 *
 * Anything that can bind port 0 and report what it got does so instead (the
 * gateway, Bun.serve and Bun.listen backends): a port found free here and
 * bound later may be taken by another process in between, which is how
 * `bun test` runs side by side used to fail with "port is already in use".
 */

/**
 * Every port handed out by this process. The kernel may give a port just
 * released to the next bind of port 0, so two picks in a row (pebble's five,
 * then redis's, then the gateway's HTTP port in one setup) could name the
 * same port and the later server find it taken: a port is never handed out twice.
 */
const handedOut = new Set<number>();

function unusedLoopbackPort(): number {
  for (;;) {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** A loopback port nothing listens on (a moment ago): for "connection refused" cases. */
export function closedPort(): number {
  return unusedLoopbackPort();
}

/**
 * A loopback port that was free a moment ago, for a server that must be told
 * its port before it starts and cannot report one it picked: redis-server
 * (`--port 0` turns TCP off), pebble's listeners and its HTTP-01 target (the
 * gateway's HTTP port, written into pebble's config first), a server restarted
 * on the same port. Another process may take it first: callers retry or live
 * with the rare failure.
 */
export function preChosenPort(): number {
  return unusedLoopbackPort();
}
