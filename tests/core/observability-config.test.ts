/** REQUEST_LOG, LOG_RETENTION_HOURS, REQUEST_LOG_QUEUE_MAX, ACCESS_LOG and NODE_ID: defaults, and bad values named. */
import { expect, test } from "bun:test";
import { hostname } from "node:os";
import { parseConfig } from "../../src/core/config";
import { configProblems as problems } from "../helpers/config-problems";


test("defaults: the request log on for a day, a queue of 100000, no access log, the machine's name", () => {
  expect(parseConfig({}).observability).toEqual({ requestLog: true, logRetentionHours: 24, requestLogQueueMax: 100_000, accessLog: "off", nodeId: hostname(), auditRetentionDays: 90 });
});

test("each setting is read", () => {
  const settings = parseConfig({ REQUEST_LOG: "false", LOG_RETENTION_HOURS: "72", REQUEST_LOG_QUEUE_MAX: "5000", ACCESS_LOG: "COMMON", NODE_ID: "edge-1" }).observability;
  expect(settings).toEqual({ requestLog: false, logRetentionHours: 72, requestLogQueueMax: 5000, accessLog: "common", nodeId: "edge-1", auditRetentionDays: 90 });
});

test("bad values are refused, each named", () => {
  const found = problems({ REQUEST_LOG: "maybe", LOG_RETENTION_HOURS: "0", REQUEST_LOG_QUEUE_MAX: "lots", ACCESS_LOG: "xml", NODE_ID: "a b" });
  expect(found).toHaveLength(5);
  for (const name of ["REQUEST_LOG", "LOG_RETENTION_HOURS", "REQUEST_LOG_QUEUE_MAX", "ACCESS_LOG", "NODE_ID"]) expect(found.some((p) => p.startsWith(`${name}=`))).toBe(true);
});
