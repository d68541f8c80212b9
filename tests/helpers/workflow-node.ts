/**
 * A workflow consumer in a process of its own, for tests that kill a node
 * with SIGKILL while it holds an event. Run by workflowNodeProcess (below),
 * not by `bun test`.
 *
 * Handlers: `test_effect` (INCR `test:effects:{event id}`, RPUSH the consumer
 * name to `test:effects`) and the real `proxy_created` certificate handler.
 * Each first writes `test:entered:{event id}` = its consumer name; with
 * WORKFLOW_NODE_BARRIER=before it then stops there (never does the side
 * effect), with `after` it does the side effect and stops before the
 * acknowledgement — until the process is killed.
 */
import { Redis } from "ioredis";
import pino from "pino";
import { CertificateManager } from "../../src/certificates/certificate-manager";
import { proxyCertificateHandler } from "../../src/certificates/proxy-certificate-workflow";
import { parseConfig } from "../../src/core/config";
import { WorkflowConsumer, type WorkflowHandler } from "../../src/orchestration/workflow-consumer";
import { createStores } from "../../src/storage/stores";

export const ENTERED = (eventId: string) => `test:entered:${eventId}`;
export const EFFECTS = (eventId: string) => `test:effects:${eventId}`;
export const EFFECT_LOG = "test:effects";

/** The test_effect side effect, counted per event and listed by the consumer that did it. */
export function countingHandler(redis: Redis, consumerName: () => string): WorkflowHandler {
  return async (event) => {
    await redis.multi().incr(EFFECTS(event.id)).rpush(EFFECT_LOG, consumerName()).exec();
  };
}

/** Marks entry, then (barrier) waits forever before or after `inner`. */
function withBarrier(redis: Redis, consumerName: () => string, barrier: string | undefined, inner: WorkflowHandler): WorkflowHandler {
  return async (event, context) => {
    await redis.set(ENTERED(event.id), consumerName());
    if (barrier === "before") await new Promise(() => {});
    await inner(event, context);
    if (barrier === "after") await new Promise(() => {});
  };
}

if (import.meta.main) {
  const env = process.env as Record<string, string>;
  const config = parseConfig({ ...env, AUTO_CERTIFICATES: "true" });
  const redis = new Redis(env.REDIS_URL!);
  const log = pino({ level: "silent" });
  const stores = createStores(redis);
  const manager = new CertificateManager({ redis, certificates: stores.certificates, proxies: stores.proxies, settings: config.certificates, httpPort: 80, selfSignedDays: 30, adminEmail: null, log });
  let name = "";
  const barrier = env.WORKFLOW_NODE_BARRIER;
  const consumer = new WorkflowConsumer({
    redis,
    handlers: new Map([
      ["test_effect", withBarrier(redis, () => name, barrier, countingHandler(redis, () => name))],
      ["proxy_created", withBarrier(redis, () => name, barrier, proxyCertificateHandler({ proxies: stores.proxies, manager, log }))],
    ]),
    settings: config.workflow,
    log,
    nodeId: env.NODE_ID ?? "process-node",
  });
  name = consumer.name;
  await consumer.start();
  console.log(JSON.stringify({ ready: consumer.name }));
}

/** Starts workflow-node.ts as a child process; resolves once its consumer reads the stream. */
export async function workflowNodeProcess(env: Record<string, string>): Promise<{ name: string; process: ReturnType<typeof Bun.spawn> }> {
  const child = Bun.spawn(["bun", import.meta.path], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "inherit" });
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    const line = text.split("\n").find((l) => l.startsWith("{"));
    if (line) {
      reader.releaseLock();
      return { name: (JSON.parse(line) as { ready: string }).ready, process: child };
    }
  }
  child.kill("SIGKILL");
  throw new Error(`workflow node did not start: ${text}`);
}
