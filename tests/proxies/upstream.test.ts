/**
 * How the engine's HTTP/1.1 client copes with what real backends do: interim
 * responses, every body framing, connections closed at awkward moments,
 * answers before the upload is done, and clients that leave early.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rawExchange, startGateway, startRawBackend, type RawRequest } from "./harness";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
type RawSocket = Parameters<Parameters<typeof startRawBackend>[0]>[0];
const raw = (reply: (socket: RawSocket, request: RawRequest) => void, options = {}) => {
  const backend = startRawBackend(reply);
  const gateway = startGateway(backend.url, { options });
  cleanups.push(() => backend.stop(), () => gateway.stop());
  return { backend, gateway };
};
const bodyOf = (answer: string) => answer.slice(answer.indexOf("\r\n\r\n") + 4);

describe("interim responses", () => {
  test("100 Continue and 103 Early Hints are skipped; the final response arrives", async () => {
    const { gateway } = raw((socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      socket.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
      socket.write("HTTP/1.1 201 Created\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\ndone");
    });
    const response = await fetch(gateway.url + "/", { method: "POST", body: "x" });
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("done");
  });
});

describe("body framing", () => {
  test("chunked, in one packet: decoded, sent with a Content-Length", async () => {
    const { gateway } = raw((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n"));
    const answer = await rawExchange(gateway.port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    expect(bodyOf(answer)).toBe("hello world");
    expect(answer.toLowerCase()).toContain("content-length: 11");
  });

  test("chunked, trickling in byte by byte", async () => {
    const { gateway } = raw((socket) => {
      const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
      let i = 0;
      const timer = setInterval(() => {
        socket.write(text[i++]!);
        if (i === text.length) clearInterval(timer);
      }, 2);
    });
    expect(await (await fetch(gateway.url + "/")).text()).toBe("abcde");
  });

  test("close-delimited body (no length): read to the end, connection not reused", async () => {
    const { gateway, backend } = raw((socket) => {
      socket.write("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
      setTimeout(() => socket.end(), 30);
    });
    expect(await (await fetch(gateway.url + "/")).text()).toBe("until the end");
    expect(await (await fetch(gateway.url + "/")).text()).toBe("until the end");
    expect(backend.connections()).toBe(2);
  });

  test("Connection: close from the backend: the next request opens a new connection", async () => {
    const { gateway, backend } = raw((socket) => socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"));
    for (let i = 0; i < 3; i++) expect(await (await fetch(gateway.url + "/")).text()).toBe("ok");
    expect(backend.connections()).toBe(3);
  });

  test("no Content-Type from the backend: none is added; HEAD keeps Content-Length", async () => {
    const { gateway } = raw((socket, request) => {
      if (request.head.startsWith("HEAD")) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
      else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
    });
    const get = await rawExchange(gateway.port, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    expect(get.toLowerCase()).not.toContain("content-type");
    expect(bodyOf(get)).toBe("abc");
    const head = await rawExchange(gateway.port, "HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    expect(head.toLowerCase()).toContain("content-length: 1234");
    expect(bodyOf(head)).toBe("");
  });

  test("bytes beyond Content-Length: the response is cut to length and the connection dropped", async () => {
    const { gateway, backend } = raw((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA GARBAGE"));
    expect(await (await fetch(gateway.url + "/")).text()).toBe("ok");
    expect(await (await fetch(gateway.url + "/")).text()).toBe("ok");
    expect(backend.connections()).toBe(2);
  });

  test("a response head over 64 KiB: 502", async () => {
    const { gateway } = raw((socket) => socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70_000)}\r\nContent-Length: 0\r\n\r\n`));
    expect((await fetch(gateway.url + "/")).status).toBe(502);
  });

  test("header bytes above 0x7f pass through unchanged both ways", async () => {
    let seen = "";
    const { gateway } = raw((socket, request) => {
      seen = request.head;
      socket.write(Buffer.from("HTTP/1.1 200 OK\r\nX-Reply: caf\xe9\r\nContent-Length: 0\r\n\r\n", "latin1"));
    });
    const answer = await new Promise<Buffer>(async (resolve) => {
      const chunks: Buffer[] = [];
      const socket = await Bun.connect({
        hostname: "127.0.0.1",
        port: gateway.port,
        socket: {
          data: (_s, d) => void chunks.push(Buffer.from(d)),
          close: () => resolve(Buffer.concat(chunks)),
        },
      });
      socket.write(Buffer.from("GET / HTTP/1.1\r\nHost: h\r\nX-Name: Jos\xe9\r\nConnection: close\r\n\r\n", "latin1"));
    });
    expect(seen).toContain("x-name: Jos\xe9");
    expect(answer.toString("latin1").toLowerCase()).toContain("x-reply: caf\xe9");
  });
});

describe("connection reuse", () => {
  test("a pooled connection the backend closed as we reused it: the GET is retried on a new one", async () => {
    // Each connection answers its first request and closes on its second, unanswered: an idle timeout racing our reuse.
    const { gateway, backend } = raw((socket, request) => {
      if (request.index === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      else socket.end();
    });
    for (let i = 0; i < 4; i++) {
      const response = await fetch(gateway.url + "/");
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("ok");
    }
    expect(backend.connections()).toBe(4);
  });

  test("the same race on a POST: not replayed, 502", async () => {
    const { gateway } = raw((socket, request) => {
      if (request.index === 1) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      else socket.end();
    });
    expect((await fetch(gateway.url + "/", { method: "POST", body: "a" })).status).toBe(200);
    expect((await fetch(gateway.url + "/", { method: "POST", body: "b" })).status).toBe(502);
  });

  test("an idle pooled connection closed by the backend is forgotten, not reused", async () => {
    const { gateway, backend } = raw((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      setTimeout(() => socket.end(), 20);
    });
    expect(await (await fetch(gateway.url + "/")).text()).toBe("ok");
    await Bun.sleep(100);
    expect(await (await fetch(gateway.url + "/", { method: "POST", body: "x" })).text()).toBe("ok");
    expect(backend.connections()).toBe(2);
  });
});

describe("early answers and departures", () => {
  test("the backend answers 413 before reading a large upload: the client gets the 413", async () => {
    const listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket) {
          socket.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!");
          socket.end();
        },
      },
    });
    const gateway = startGateway(`http://127.0.0.1:${listener.port}`);
    cleanups.push(() => listener.stop(true), () => gateway.stop());
    const big = new Uint8Array(8 * 1024 * 1024);
    const response = await fetch(gateway.url + "/upload", { method: "PUT", body: big }).catch(() => undefined);
    // Either the 413 arrives, or the client's send failed because the gateway closed: never a hang or a 200.
    if (response) {
      expect(response.status).toBe(413);
      expect(await response.text()).toBe("too big!");
    }
  });

  test("a client that leaves while the backend thinks: the backend connection is closed", async () => {
    const { gateway, backend } = raw(() => {
      // never answers
    }, { requestTimeoutMs: 30_000 });
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: gateway.port, socket: { data() {} } });
    socket.write("GET /long-poll HTTP/1.1\r\nHost: h\r\n\r\n");
    for (let i = 0; i < 100 && backend.connections() === 0; i++) await Bun.sleep(10);
    socket.end();
    for (let i = 0; i < 300 && backend.closed().length === 0; i++) await Bun.sleep(10);
    expect(backend.closed()).toEqual([1]);
  });
});
