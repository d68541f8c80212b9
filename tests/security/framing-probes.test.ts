/**
 * Classic request-smuggling probes (CL.TE, TE.CL, duplicate and odd
 * Content-Length or Transfer-Encoding, obs-fold, bare LF, bad chunk sizes),
 * each sent in one write and judged by what a recording backend actually
 * framed: nothing named "smuggled" ever reaches it, every request it frames is
 * one the client sent on its own, and the listener keeps serving.
 */
import { expect, test } from "bun:test";
import { rawConnection } from "../helpers/raw-http";
import { useRecordedProxy } from "../helpers/recorded-proxy";

const H = "app.example.test";
const suite = useRecordedProxy(H, { env: { PROXY_REQUEST_TIMEOUT: "1" } });

const SMUGGLED = `GET /smuggled HTTP/1.1\r\nHost: ${H}\r\n\r\n`;
/** What the backend may see for each probe: the probe's own first request line, or nothing. */
const PROBES: Record<string, { bytes: string; allowed: string[] }> = {
  "CL.TE": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, allowed: ["POST /a"] },
  "TE.CL": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`, allowed: ["POST /a"] },
  "two different Content-Lengths": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, allowed: [] },
  "Content-Length list": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, allowed: [] },
  "Content-Length with a sign": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nContent-Length: +${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, allowed: [] },
  "Transfer-Encoding: xchunked": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`, allowed: ["POST /a"] },
  "Transfer-Encoding: chunked, identity": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`, allowed: [] },
  "Transfer-Encoding with a space before the colon": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`, allowed: [] },
  "obs-fold Transfer-Encoding": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nX-Pad: 1\r\n chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`, allowed: [] },
  "bare LF line endings": { bytes: `POST /a HTTP/1.1\nHost: ${H}\nContent-Length: ${SMUGGLED.length}\n\n${SMUGGLED}`, allowed: ["POST /a"] },
  "chunk size with junk": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\nz\r\n\r\n${SMUGGLED}`, allowed: ["POST /a"] },
  "chunk size overflow": { bytes: `POST /a HTTP/1.1\r\nHost: ${H}\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nx\r\n0\r\n\r\n${SMUGGLED}`, allowed: ["POST /a"] },
  "NUL in a header": { bytes: `GET /a HTTP/1.1\r\nHost: ${H}\r\nX-A: a\0b\r\n\r\n${SMUGGLED}`, allowed: [] },
  "GET with a body that holds a request": { bytes: `GET /a HTTP/1.1\r\nHost: ${H}\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, allowed: ["GET /a"] },
};

for (const [name, probe] of Object.entries(PROBES)) {
  test(`probe: ${name}`, async () => {
    suite.backend.requests.length = 0;
    const connection = await rawConnection(suite.gw.gateway.httpPort);
    const answer = await connection.send(probe.bytes, 300);
    connection.close();
    await Bun.sleep(50);
    expect(answer).not.toContain("smuggled");
    // A leftover body the backend framed as a request of its own would show up here.
    for (const line of suite.requestLines()) expect(probe.allowed).toContain(line);
    expect((await suite.gw.get(H, "/after")).status).toBe(200);
  });
}
