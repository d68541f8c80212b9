/**
 * The setup of a test file that attacks one proxy: a test Redis, a gateway in
 * this process, and a recording backend (raw-http.ts) behind `hostname`,
 * registered as the file's beforeAll/afterAll hooks.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { startTestGateway, type TestGateway } from "./gateway-in-process";
import { startRecordingBackend } from "./raw-http";
import { startTestRedis, type TestRedis } from "./redis-server";

export interface RecordedProxy {
  readonly gw: TestGateway;
  readonly backend: ReturnType<typeof startRecordingBackend>;
  /** "METHOD /path" of each request the backend framed, in order. */
  requestLines(): string[];
}

export function useRecordedProxy(
  hostname: string,
  options: {
    env?: Record<string, string>;
    /** More configuration before the proxy is used (edge auth, other proxies). */
    configure?: (gw: TestGateway) => Promise<void>;
    /** The answer that shows the configuration is live: GET `path` answers `status`. */
    ready?: { path: string; status: number };
  } = {},
): RecordedProxy {
  const backend = startRecordingBackend();
  let redis: TestRedis | undefined;
  let gw: TestGateway | undefined;
  beforeAll(async () => {
    redis = await startTestRedis();
    gw = await startTestGateway(redis, options.env);
    expect((await gw.api("POST", "/api/v1/proxy/targets", { hostname, target_url: backend.url })).status).toBe(201);
    await options.configure?.(gw);
    const ready = options.ready ?? { path: "/", status: 200 };
    for (let i = 0; i < 100 && (await gw.get(hostname, ready.path)).status !== ready.status; i++) await Bun.sleep(20);
    backend.requests.length = 0;
  });
  afterAll(async () => {
    await gw?.stop();
    backend.stop();
    await redis?.stop();
  });
  return {
    get gw() {
      return gw!;
    },
    backend,
    requestLines: () => backend.requests.map((r) => r.head.slice(0, r.head.indexOf(" HTTP/1.1"))),
  };
}
