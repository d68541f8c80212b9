/**
 * GET /api/v1/logs/follow over a real gateway's API port: records written
 * after the stream opened arrive as SSE events (filtered, and only the
 * caller's own for a non-admin token); the follower's Redis connection
 * closes with the client; a quiet tail gets keep-alives and outlives the
 * API server's idle timeout.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { TAIL_CONNECTION_NAME } from "../../src/api/routes/logs-follow";
import { GATEWAY_ADMIN, startTestGateway, type TestGateway } from "../helpers/gateway-in-process";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";
import { requestRecord, seedFlush } from "../helpers/request-log-seed";

let redis: TestRedis;
let gw: TestGateway;
let alice: string;

beforeAll(async () => {
  redis = await startTestRedis();
  gw = await startTestGateway(redis);
  alice = (await gw.api("POST", "/api/v1/tokens/", { name: "alice" })).json.token;
  const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/api/v1/proxy/targets/`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
    body: JSON.stringify({ hostname: "alice.test", target_url: "http://127.0.0.1:9" }),
  });
  expect(res.status).toBe(201);
});
/** Every test's tails are closed by its end: the gateway holds no follower connection afterwards. */
afterEach(async () => {
  const start = Date.now();
  while ((await followerConnections()) > 0 && Date.now() - start < 3000) await Bun.sleep(20);
  expect(await followerConnections()).toBe(0);
});
afterAll(async () => {
  await gw.stop();
  await redis.stop();
});

/** An open tail: its raw text as it arrives, and a way to wait for some of it. */
async function openTail(query: string, token = GATEWAY_ADMIN) {
  const controller = new AbortController();
  const res = await fetch(`http://127.0.0.1:${gw.gateway.apiPort}/api/v1/logs/follow${query}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/event-stream");
  let text = "";
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const reading = (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    } catch {
      // Aborted by the test.
    }
  })();
  const waitFor = async (predicate: (text: string) => boolean, timeoutMs = 5000) => {
    const start = Date.now();
    while (!predicate(text)) {
      if (Date.now() - start > timeoutMs) throw new Error(`not seen within ${timeoutMs} ms; got: ${text}`);
      await Bun.sleep(10);
    }
  };
  await waitFor((t) => t.includes(": following"));
  const events = () =>
    text
      .split("\n\n")
      .filter((block) => block.startsWith("event: request"))
      .map((block) => JSON.parse(block.split("\n").find((line) => line.startsWith("data: "))!.slice(6)));
  return { waitFor, events, text: () => text, close: async () => (controller.abort(), await reading) };
}

const followerConnections = async () => (String(await redis.client.client("LIST"))).split("\n").filter((line: string) => line.includes(` name=${TAIL_CONNECTION_NAME} `)).length;

test("a record written after the stream opened arrives; filters apply", async () => {
  const all = await openTail("");
  const errors = await openTail("?status=5xx&host=alice.test");
  await seedFlush(redis.client, Date.now(), [
    requestRecord({ request_id: "ok-1", host: "alice.test", proxy: "alice.test", status: 200 }),
    requestRecord({ request_id: "bad-1", host: "alice.test", proxy: "alice.test", status: 502, ip: "10.0.0.5" }),
    requestRecord({ request_id: "bad-other", host: "other.test", status: 503, ip: "10.0.0.6" }),
  ]);
  await all.waitFor(() => all.events().length === 3);
  await errors.waitFor(() => errors.events().length >= 1);
  await Bun.sleep(100);
  expect(all.events().map((r) => r.request_id)).toEqual(["ok-1", "bad-1", "bad-other"]);
  expect(errors.events().map((r) => r.request_id)).toEqual(["bad-1"]);
  expect(errors.events()[0]).toMatchObject({ status: 502, ip: "10.0.0.5", host: "alice.test" });
  await all.close();
  await errors.close();
});

test("a non-admin token's tail carries only its own proxies' records", async () => {
  const mine = await openTail("", alice);
  await seedFlush(redis.client, Date.now(), [
    requestRecord({ request_id: "theirs", host: "other.test", proxy: "other.test" }),
    requestRecord({ request_id: "no-proxy", host: "unknown.test" }),
    requestRecord({ request_id: "mine", host: "alice.test", proxy: "alice.test", ip: "10.0.0.9" }),
  ]);
  await mine.waitFor(() => mine.events().length >= 1);
  await Bun.sleep(100);
  expect(mine.events().map((r) => r.request_id)).toEqual(["mine"]);
  await mine.close();
});

test("the follower's own Redis connection closes when the client goes away", async () => {
  const before = await followerConnections();
  const tail = await openTail("");
  await Bun.sleep(50);
  expect(await followerConnections()).toBe(before + 1);
  await tail.close();
  const start = Date.now();
  while ((await followerConnections()) > before && Date.now() - start < 8000) await Bun.sleep(50);
  expect(await followerConnections()).toBe(before);
});

test("a quiet tail gets a keep-alive comment and outlives the API's 10 s idle timeout", async () => {
  const tail = await openTail("?host=quiet.test");
  await tail.waitFor((t) => t.includes(": keep-alive"), 20_000);
  await seedFlush(redis.client, Date.now(), [requestRecord({ request_id: "late", host: "quiet.test" })]);
  await tail.waitFor(() => tail.events().length === 1);
  expect(tail.events()[0].request_id).toBe("late");
  await tail.close();
}, 30_000);
