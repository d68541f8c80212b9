/**
 * drain() on both TLS listeners, the first step of a shutdown: still
 * accepting, every response says Connection: close (also on a keep-alive
 * connection opened before), certificate changes are ignored, and requests in
 * flight are counted.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { connect, type TLSSocket } from "node:tls";
import { TlsListenerSet, TlsServerSet, type TlsCertificates, type TlsListener } from "../../native-tls/tls-listener";
import { createTestCa, type IssuedCertificate, type TestCa } from "../helpers/test-ca";

let ca: TestCa;
let site: IssuedCertificate;
let other: IssuedCertificate;
const opened: TlsListener<undefined>[] = [];

beforeAll(async () => {
  ca = await createTestCa();
  [site, other] = await Promise.all([ca.issue("site.test", ["site.test"]), ca.issue("site.test", ["site.test"])]);
});
afterEach(async () => {
  for (const listener of opened.splice(0)) await listener.stop(true);
});

const tls = (issued: IssuedCertificate): TlsCertificates => ({ fallback: { cert: issued.fullchain_pem, key: issued.private_key_pem }, byServerName: new Map() });

/** A keep-alive TLS connection: one request at a time, the raw response back. */
async function keepAlive(port: number) {
  const socket: TLSSocket = connect({ host: "127.0.0.1", port, servername: "site.test", ca: ca.pem });
  await new Promise((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    closed,
    request(path = "/"): Promise<string> {
      const answer = new Promise<string>((resolve) => socket.once("data", (chunk) => resolve(String(chunk))));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: site.test\r\n\r\n`);
      return answer;
    },
  };
}

const kinds = {
  TlsServerSet: (options: ConstructorParameters<typeof TlsServerSet<undefined>>[0], certificates: TlsCertificates) => new TlsServerSet<undefined>(options, certificates),
  TlsListenerSet: (options: ConstructorParameters<typeof TlsListenerSet<undefined>>[0], certificates: TlsCertificates) => new TlsListenerSet<undefined>(options, certificates),
};

for (const [kind, create] of Object.entries(kinds)) {
  describe(`${kind}.drain()`, () => {
    function start() {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const listener = create(
        {
          hostname: "127.0.0.1",
          port: 0,
          http: { fetch: async (request) => (new URL(request.url).pathname === "/slow" && (await gate), new Response("hello")), websocket: { message() {} } },
        },
        tls(site),
      );
      opened.push(listener);
      return { listener, release };
    }

    test("every response says Connection: close, on old and new connections, while it keeps accepting", async () => {
      const { listener } = start();
      const before = await keepAlive(listener.port);
      expect(await before.request()).not.toMatch(/connection: close/i);

      let requests = 0;
      listener.drain(() => requests++);
      expect(await before.request()).toMatch(/^HTTP\/1\.1 200[^]*\r\nconnection: close\r\n/i);
      await before.closed;

      const during = await keepAlive(listener.port);
      expect(await during.request()).toMatch(/\r\nconnection: close\r\n/i);
      await during.closed;
      expect(requests).toBe(2);
    });

    test("counts requests in flight and ignores certificate changes", async () => {
      const { listener, release } = start();
      const connection = await keepAlive(listener.port);
      const slow = connection.request("/slow");
      for (let i = 0; i < 200 && listener.pendingRequests === 0; i++) await Bun.sleep(5);
      expect(listener.pendingRequests).toBe(1);

      listener.drain();
      listener.setCertificates(tls(other));
      expect(listener.generationCount).toBe(1);
      release();
      // Its request started before the drain: the answer comes from the handler it started with.
      expect(await slow).toStartWith("HTTP/1.1 200");
      for (let i = 0; i < 200 && listener.pendingRequests > 0; i++) await Bun.sleep(5);
      expect(listener.pendingRequests).toBe(0);
    });
  });
}
