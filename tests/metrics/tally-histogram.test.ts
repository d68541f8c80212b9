/**
 * The edge's histogram as a scraper reads it (prom2javascript): cumulative
 * buckets with `le` meaning "less than or equal", +Inf equal to the count,
 * the sum of what was observed, one series per label set that saw traffic.
 */
import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { TallyHistogram, type Tally } from "../../src/metrics/tally-histogram";
import { parsePrometheusText, sample, samples } from "../helpers/prometheus-text";

test("buckets are cumulative, a value on a bound counts in that bound's bucket, +Inf is the count", async () => {
  const registry = new Registry();
  const tallies = new Map<string, Tally>();
  const histogram = new TallyHistogram("t_seconds", "test", [0.1, 1, 10], () => [...tallies].map(([host, tally]) => [{ host }, tally] as const), registry);
  tallies.set("a", histogram.newTally());
  tallies.set("idle", histogram.newTally());
  for (const value of [0.05, 0.1, 0.5, 1, 20]) tallies.get("a")!.observe(value);

  const families = await parsePrometheusText(await registry.metrics());
  expect(families["t_seconds"]!.type).toBe("histogram");
  const a = sample(families, "t_seconds", { host: "a" });
  expect(a.buckets).toEqual({ "0.1": 2, "1": 4, "10": 4, "+Inf": 5 });
  expect(a.count).toBe(5);
  expect(a.sum).toBeCloseTo(21.65, 10);
  // A label set that saw nothing is not exported.
  expect(samples(families, "t_seconds").map((s) => s.labels.host)).toEqual(["a"]);
});
