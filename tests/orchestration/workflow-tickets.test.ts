/**
 * An API request waiting for the node that claims its event: answered by a
 * message on workflow:settled naming its ticket, and by nothing else; bounded by its timeout.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { keys } from "../../src/storage/keys";
import { WorkflowTickets } from "../../src/orchestration/workflow-tickets";
import { startTestRedis, type TestRedis } from "../helpers/redis-server";

let redis: TestRedis;
let tickets: WorkflowTickets;

beforeAll(async () => {
  redis = await startTestRedis();
  tickets = new WorkflowTickets(redis.client);
  await tickets.start();
});
afterAll(async () => {
  tickets.stop();
  await redis.stop();
});

test("the answer naming the ticket ends the wait at once; others' answers and garbage do not", async () => {
  const mine = tickets.expect();
  const other = tickets.expect();
  const waiting = mine.settled(10_000);
  await redis.client.publish(keys.workflowSettledChannel, "not json");
  await redis.client.publish(keys.workflowSettledChannel, JSON.stringify({ ticket: other.ticket, ok: true }));
  await redis.client.publish(keys.workflowSettledChannel, JSON.stringify({ ticket: 42 }));
  const started = performance.now();
  await redis.client.publish(keys.workflowSettledChannel, JSON.stringify({ ticket: mine.ticket, ok: false }));
  expect(await waiting).toBe(true);
  expect(performance.now() - started).toBeLessThan(2_000);
  // The other ticket was answered before anyone waited on it: still counted.
  expect(await other.settled(10)).toBe(true);
});

test("no answer: the wait ends after its timeout, saying so", async () => {
  const lonely = tickets.expect();
  const started = performance.now();
  expect(await lonely.settled(150)).toBe(false);
  expect(performance.now() - started).toBeGreaterThanOrEqual(140);
});

test("stopping wakes every waiter without an answer", async () => {
  const own = new WorkflowTickets(redis.client);
  await own.start();
  const waiting = own.expect().settled(30_000);
  own.stop();
  expect(await waiting).toBe(false);
});
