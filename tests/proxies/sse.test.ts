/**
 * Server-sent events: each event reaches the client when the backend flushes
 * it (no buffering, no compression), and a client that leaves closes the
 * backend's stream.
 */
import { afterAll, expect, test } from "bun:test";
import { startGateway } from "./harness";

let release!: () => void;
const released = new Promise<void>((resolve) => (release = resolve));
let backendCancelled!: () => void;
const cancelled = new Promise<void>((resolve) => (backendCancelled = resolve));
const encoder = new TextEncoder();

const backend = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  fetch(request) {
    const endless = new URL(request.url).pathname === "/endless";
    return new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(encoder.encode("event: greeting\ndata: one\n\n"));
          if (endless) return;
          await released;
          controller.enqueue(encoder.encode("data: two\n\n"));
          controller.close();
        },
        async pull(controller) {
          if (!endless) return;
          await Bun.sleep(50);
          controller.enqueue(encoder.encode(": keep-alive\n\n"));
        },
        cancel: () => backendCancelled(),
      }),
      { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } },
    );
  },
});
const gateway = startGateway(`http://127.0.0.1:${backend.port}`);
afterAll(async () => {
  await gateway.stop();
  await backend.stop(true);
});

const within = <T>(ms: number, promise: Promise<T>, what: string): Promise<T> =>
  Promise.race([promise, Bun.sleep(ms).then(() => Promise.reject(new Error(`${what}: nothing within ${ms} ms`)))]);

test("the first event arrives before the backend finishes, uncompressed", async () => {
  const response = await fetch(gateway.url + "/events", { headers: { accept: "text/event-stream", "accept-encoding": "gzip, br" } });
  expect(response.headers.get("content-type")).toBe("text/event-stream");
  expect(response.headers.get("content-encoding")).toBeNull();
  const reader = response.body!.getReader();
  const first = await within(3_000, reader.read(), "first event");
  expect(new TextDecoder().decode(first.value)).toBe("event: greeting\ndata: one\n\n");
  release();
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
  expect(rest).toBe("data: two\n\n");
});

test("a client that disconnects closes the backend stream", async () => {
  const abort = new AbortController();
  const response = await fetch(gateway.url + "/endless", { signal: abort.signal });
  const reader = response.body!.getReader();
  await within(3_000, reader.read(), "first event");
  abort.abort();
  await within(5_000, cancelled, "backend stream cancelled");
});
