/**
 * GET /metrics read with an independent Prometheus text-format parser
 * (prom2javascript), not prom-client's own: what a scraper sees.
 */
import { getMetricsFromIterator, type PromMetrics } from "prom2javascript";

export interface Sample {
  readonly labels: Record<string, string>;
  readonly value?: number;
  readonly count?: number;
  readonly sum?: number;
  readonly buckets?: Record<string, number>;
}

export type Families = PromMetrics;

export function parsePrometheusText(text: string): Promise<Families> {
  return getMetricsFromIterator(text.split("\n")[Symbol.iterator]());
}

/** Every sample of the family `name` (none when the family is absent). */
export function samples(families: Families, name: string): readonly Sample[] {
  return (families[name]?.data ?? []) as readonly Sample[];
}

/** The one sample of `name` whose labels include `labels`; throws when there is none. */
export function sample(families: Families, name: string, labels: Record<string, string>): Sample {
  if (!families[name]) throw new Error(`no metric family ${name}`);
  const hit = samples(families, name).find((m) => Object.entries(labels).every(([key, value]) => m.labels[key] === value));
  if (!hit) throw new Error(`no ${name} sample with ${JSON.stringify(labels)}; have ${JSON.stringify(samples(families, name).map((m) => m.labels))}`);
  return hit;
}
