/**
 * What the PROXY protocol listener costs. wrk cannot send the header, so
 * nginx's stream module stands in for the load balancer: one server passes
 * connections to HTTP_PORT as they are (c), another to PROXY_PROTOCOL_PORT
 * with a header (d). nginx is on both paths, so (d) ÷ (c) is the price of the
 * header alone: the raw edge reads it once per connection and serves the
 * requests itself (with HTTP_ENGINE=serve, a relay hop to an internal listener).
 */
import type { BenchOptions } from "./args";
import { startNginxStream } from "./nginx-stream";
import { PLAIN_HOST, type RunningPortcullis } from "./portcullis";
import type { HttpScenario } from "./report";
import { measureHttp } from "./scenarios";

/** Alternating rounds, best of each: other work on 2 shared cores only ever slows a run down. */
const ROUNDS = 2;

const PLAIN = "portcullis (c) via nginx stream";
const RELAYED = "portcullis (d) PROXY protocol";
const PLAIN_DESCRIPTION = "nginx stream (1 worker, no header) → HTTP_PORT, proxy target as in (a); the baseline for (d).";
const RELAYED_DESCRIPTION =
  "nginx stream with `proxy_protocol on` → PROXY_PROTOCOL_PORT (the raw edge reads the header, then serves the requests as HTTP_PORT does), proxy target as in (a).";

export async function benchProxyProtocol(gateway: RunningPortcullis, options: BenchOptions): Promise<{ http: HttpScenario[]; notes: string[] }> {
  console.log("portcullis behind nginx stream, without and with a PROXY protocol header");
  let stream;
  try {
    stream = await startNginxStream(
      [
        { upstreamPort: gateway.httpPort, proxyProtocol: false },
        { upstreamPort: gateway.proxyProtocolPort, proxyProtocol: true },
      ],
      { host: PLAIN_HOST, path: "/" },
    );
  } catch (err) {
    const error = (err as Error).message.split("\n")[0]!;
    console.error(`  ${error}`);
    return {
      http: [
        { name: PLAIN, description: PLAIN_DESCRIPTION, command: "", error },
        { name: RELAYED, description: RELAYED_DESCRIPTION, command: "", error },
      ],
      notes: [],
    };
  }
  try {
    const [plainPort, relayedPort] = stream.ports as [number, number];
    const rounds: [HttpScenario, HttpScenario][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const base = await measureHttp({ name: PLAIN, description: PLAIN_DESCRIPTION, port: plainPort, host: PLAIN_HOST, path: "/" }, options);
      const relayed = await measureHttp({ name: RELAYED, description: RELAYED_DESCRIPTION, port: relayedPort, host: PLAIN_HOST, path: "/" }, options);
      rounds.push([base, relayed]);
    }
    const base = best(rounds.map((r) => r[0]));
    const relayed = best(rounds.map((r) => r[1]));
    const notes: string[] = [];
    if (base.result && relayed.result) {
      const ratio = relayed.result.requestsPerSecond / base.result.requestsPerSecond;
      const perRound = rounds.map(([c, d]) => (c.result && d.result ? (d.result.requestsPerSecond / c.result.requestsPerSecond).toFixed(2) : "–"));
      notes.push(
        `PROXY protocol path: (d) ÷ (c) = ${ratio.toFixed(2)}× the requests per second (best of ${ROUNDS} alternating rounds each; per round ${perRound.join(", ")}).`,
      );
    }
    return { http: [base, relayed], notes };
  } finally {
    await stream.stop();
  }
}

function best(runs: readonly HttpScenario[]): HttpScenario {
  return runs.reduce((a, b) => ((b.result?.requestsPerSecond ?? -1) > (a.result?.requestsPerSecond ?? -1) ? b : a));
}
