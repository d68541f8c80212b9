/**
 * A Prometheus histogram whose observations are plain array writes. prom-client's
 * own Histogram hashes its label object on every observe (≈0.4 µs); on the edge's
 * per-request path the tallies live in typed arrays of the caller's (one per
 * host and status class) and are turned into the exposition format only when
 * a scrape asks, through prom-client's custom-collector interface
 * (`registry.registerMetric`).
 */
import type { Registry } from "prom-client";

/** One label set's tallies: per-bucket (not cumulative) counts, the last one above every bound, and the sum. */
export class Tally {
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.buckets[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface Exported {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName: string;
}

export class TallyHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
    /** Every label set with its tally, read at each scrape. */
    private readonly tallies: () => Iterable<readonly [Record<string, string>, Tally]>,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  newTally(): Tally {
    return new Tally(this.bounds);
  }

  async get() {
    const values: Exported[] = [];
    for (const [labels, tally] of this.tallies()) {
      if (tally.count === 0) continue;
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += tally.buckets[i]!;
        values.push({ labels: { ...labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: "+Inf" }, value: tally.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: tally.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: tally.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {}
}
