/** Bodies are read up to a limit, whatever the sender claims. */
import { describe, expect, test } from "bun:test";
import { readBounded } from "../../src/core/bounded-body";

function chunked(chunks: number, size: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) return controller.close();
      sent++;
      controller.enqueue(new Uint8Array(size).fill(97));
    },
  });
  return { stream, pulled: () => sent };
}

describe("readBounded", () => {
  test("a body within the limit comes back whole", async () => {
    const { stream } = chunked(4, 10);
    expect((await readBounded(stream, 40))!.byteLength).toBe(40);
  });

  test("past the limit: null, and the rest of the stream is not read", async () => {
    const { stream, pulled } = chunked(1_000, 1024);
    expect(await readBounded(stream, 4096)).toBeNull();
    expect(pulled()).toBeLessThan(10);
  });

  test("no body is an empty one", async () => {
    expect((await readBounded(null, 10))!.byteLength).toBe(0);
  });
});
