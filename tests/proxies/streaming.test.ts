/**
 * Bodies stream both ways with backpressure; failures on either side end the
 * other side promptly instead of hanging.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startGateway } from "./harness";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
const serve = (fetch: (request: Request) => Response | Promise<Response>) => {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 30, fetch });
  cleanups.push(() => server.stop(true));
  const gateway = startGateway(`http://127.0.0.1:${server.port}`);
  cleanups.push(() => gateway.stop());
  return gateway;
};

const MiB = 1024 * 1024;
const within = <T>(ms: number, promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, Bun.sleep(ms).then(() => Promise.reject(new Error(`${what}: no result within ${ms} ms`)))]);

/** `total` bytes of a repeating, position-dependent pattern, produced on demand. */
function patternStream(total: number, onPull?: (sent: number) => void, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(chunk, total - sent);
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 4096) bytes[i] = ((sent + i) / 4096) & 0xff;
      sent += size;
      onPull?.(sent);
      controller.enqueue(bytes);
    },
  }, { highWaterMark: 0 });
}

function sha256Stream(): { sink: WritableStream<Uint8Array>; digest: Promise<string>; bytes: () => number } {
  const hasher = new Bun.CryptoHasher("sha256");
  let bytes = 0;
  let finish!: (hex: string) => void;
  const digest = new Promise<string>((resolve) => (finish = resolve));
  const sink = new WritableStream<Uint8Array>({
    write(chunk) {
      hasher.update(chunk);
      bytes += chunk.byteLength;
    },
    close() {
      finish(hasher.digest("hex"));
    },
  });
  return { sink, digest, bytes: () => bytes };
}

async function expectedSha(total: number): Promise<string> {
  const { sink, digest } = sha256Stream();
  await patternStream(total).pipeTo(sink);
  return digest;
}

describe("downloads", () => {
  test("the first chunk reaches the client before the backend has finished", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const g = serve(() =>
      new Response(
        new ReadableStream({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode("first;"));
            await released;
            controller.enqueue(new TextEncoder().encode("second"));
            controller.close();
          },
        }),
      ),
    );
    const response = await fetch(g.url + "/slow");
    const reader = response.body!.getReader();
    const first = await within(3_000, reader.read(), "first chunk");
    expect(new TextDecoder().decode(first.value)).toBe("first;");
    release();
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe("second");
  });

  test("a client that stops reading holds the backend back (bounded buffering)", async () => {
    let produced = 0;
    const g = serve(() => new Response(patternStream(512 * MiB, (n) => (produced = n))));
    let received = 0;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: g.port,
      socket: {
        data(s, chunk) {
          received += chunk.byteLength;
          if (received > MiB) s.pause();
        },
      },
    });
    socket.write("GET /big HTTP/1.1\r\nHost: h\r\n\r\n");
    await Bun.sleep(1_500);
    const stalledAt = produced;
    await Bun.sleep(500);
    // Kernel socket buffers on two loopback hops plus a few chunks in flight; never the 512 MiB.
    expect(produced).toBeLessThan(48 * MiB);
    expect(produced - stalledAt).toBeLessThan(4 * MiB);
    socket.resume();
    socket.terminate();
  }, 15_000);

  test("64 MiB download arrives byte-exact", async () => {
    const total = 64 * MiB + 123;
    const g = serve(() => new Response(patternStream(total), { headers: { "content-length": String(total) } }));
    const response = await fetch(g.url + "/download");
    // No Content-Length check: Bun.serve frames every streamed body as chunked (oven-sh/bun#10507).
    const { sink, digest, bytes } = sha256Stream();
    await response.body!.pipeTo(sink);
    expect(bytes()).toBe(total);
    expect(await digest).toBe(await expectedSha(total));
  }, 30_000);

  const dyingBackends: [name: string, response: string][] = [
    ["with a Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nContent-Type: text/plain\r\n\r\n" + "x".repeat(1000)],
    ["chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"],
  ];
  for (const [name, response] of dyingBackends) {
    test(`a backend that dies mid-body (${name}): the client connection is cut, not hung`, async () => {
      const listener = Bun.listen({
        hostname: "127.0.0.1",
        port: 0,
        socket: {
          data(socket) {
            socket.write(response);
            setTimeout(() => socket.terminate(), 100);
          },
        },
      });
      cleanups.push(() => listener.stop(true));
      const g = startGateway(`http://127.0.0.1:${listener.port}`);
      cleanups.push(() => g.stop());
      const outcome = await within(
        5_000,
        fetch(g.url + "/").then(
          (r) => r.arrayBuffer().then((b) => `complete ${b.byteLength}`, () => "aborted"),
          () => "aborted",
        ),
        "truncated body",
      );
      expect(outcome).toBe("aborted");
    });
  }

  test("a client that disconnects mid-stream aborts the backend's stream", async () => {
    let cancelled!: () => void;
    const backendCancelled = new Promise<void>((resolve) => (cancelled = resolve));
    const g = serve(
      () =>
        new Response(
          new ReadableStream({
            async pull(controller) {
              await Bun.sleep(20);
              controller.enqueue(new Uint8Array(1024));
            },
            cancel: () => cancelled(),
          }),
        ),
    );
    const abort = new AbortController();
    const response = await fetch(g.url + "/endless", { signal: abort.signal });
    const reader = response.body!.getReader();
    await reader.read();
    abort.abort();
    await within(5_000, backendCancelled, "backend stream cancel");
  });
});

describe("uploads", () => {
  test("an upload slower than PROXY_REQUEST_TIMEOUT is not cut off while bytes flow", async () => {
    const backend = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        let bytes = 0;
        for await (const chunk of request.body ?? []) bytes += chunk.byteLength;
        return new Response(String(bytes));
      },
    });
    const gateway = startGateway(`http://127.0.0.1:${backend.port}`, { options: { requestTimeoutMs: 400 } });
    cleanups.push(() => backend.stop(true), () => gateway.stop());
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 8) return controller.close();
        await Bun.sleep(150); // 8 × 150 ms: three times the request timeout in all
        sent++;
        controller.enqueue(new Uint8Array(1024));
      },
    });
    const response = await fetch(gateway.url + "/slow-upload", { method: "POST", body, duplex: "half" } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("8192");
  });

  test("the backend receives the first chunk before the client has finished sending", async () => {
    let firstSeen!: (text: string) => void;
    const sawFirst = new Promise<string>((resolve) => (firstSeen = resolve));
    const g = serve(async (request) => {
      const reader = request.body!.getReader();
      const first = await reader.read();
      firstSeen(new TextDecoder().decode(first.value));
      let rest = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
      return new Response(`got ${rest}`);
    });
    let sendRest!: () => void;
    const restAllowed = new Promise<void>((resolve) => (sendRest = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode("part-one"));
        await restAllowed;
        controller.enqueue(new TextEncoder().encode("part-two"));
        controller.close();
      },
    });
    const pending = fetch(g.url + "/upload", { method: "POST", body, duplex: "half" } as RequestInit);
    expect(await within(3_000, sawFirst, "first upload chunk")).toBe("part-one");
    sendRest();
    expect(await (await pending).text()).toBe("got part-two");
  });

  test("a backend that stops reading holds the uploading client back (bounded buffering)", async () => {
    // The backend reads the head, then nothing more: its socket buffers fill, then the gateway's, then the client's.
    const backend = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (socket) => socket.pause() } });
    const gateway = startGateway(`http://127.0.0.1:${backend.port}`);
    cleanups.push(() => backend.stop(true), () => gateway.stop());
    const total = 512 * MiB;
    let accepted = 0;
    const chunk = new Uint8Array(256 * 1024);
    const client = await Bun.connect({
      hostname: "127.0.0.1",
      port: gateway.port,
      socket: {
        data() {},
        drain(socket) {
          while (accepted < total) {
            const written = socket.write(chunk);
            accepted += Math.max(0, written);
            if (written < chunk.length) return;
          }
        },
      },
    });
    client.write(`PUT /up HTTP/1.1\r\nHost: h\r\nContent-Length: ${total}\r\n\r\n`);
    await Bun.sleep(50);
    while (accepted < total) {
      const written = client.write(chunk);
      accepted += Math.max(0, written);
      if (written < chunk.length) break;
    }
    await Bun.sleep(1_500);
    const stalledAt = accepted;
    await Bun.sleep(500);
    // Socket buffers on two loopback hops (plus Bun.serve's request body buffer); never the 512 MiB.
    expect(stalledAt).toBeGreaterThan(MiB);
    expect(stalledAt).toBeLessThan(64 * MiB);
    expect(accepted - stalledAt).toBeLessThan(4 * MiB);
    client.terminate();
  }, 15_000);

  test("64 MiB upload arrives byte-exact (chunked and with Content-Length)", async () => {
    const total = 64 * MiB + 7;
    const g = serve(async (request) => {
      const { sink, digest, bytes } = sha256Stream();
      await request.body!.pipeTo(sink);
      return Response.json({ sha: await digest, bytes: bytes(), length: request.headers.get("content-length") });
    });
    const expected = await expectedSha(total);
    const chunked = await fetch(g.url + "/up", { method: "PUT", body: patternStream(total), duplex: "half" } as RequestInit);
    expect(await chunked.json()).toEqual({ sha: expected, bytes: total, length: null });
    const buffer = new Uint8Array(await new Response(patternStream(total)).arrayBuffer());
    const sized = await fetch(g.url + "/up", { method: "PUT", body: buffer });
    expect(await sized.json()).toEqual({ sha: expected, bytes: total, length: String(total) });
  }, 60_000);
});
