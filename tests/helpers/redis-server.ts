/**
 * A private, throwaway redis-server for one test file: real Redis on a free
 * loopback port, no persistence, killed when the file is done. redis-server
 * cannot pick a port itself, so one is chosen first and taken again if
 * another process got it in between.
 */
import { Redis } from "ioredis";
import { preChosenPort } from "./ports";
import { tempDir } from "./temp";

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly password: string;
  readonly client: Redis;
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const password = "test-" + crypto.randomUUID();
  const dir = tempDir("redis");
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = preChosenPort();
    const child = Bun.spawn(
      ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", password],
      { stdout: "ignore", stderr: "ignore" },
    );
    const client = new Redis({ port, host: "127.0.0.1", password, lazyConnect: true, retryStrategy: () => null });
    client.on("error", () => {});
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      try {
        await client.connect();
        const stop = async () => {
          client.disconnect();
          child.kill("SIGKILL");
          await child.exited;
        };
        return { port, url: `redis://:${password}@127.0.0.1:${port}/0`, password, client, stop };
      } catch {
        await Bun.sleep(20);
      }
    }
    child.kill("SIGKILL");
  }
  throw new Error("could not start a test redis-server");
}
