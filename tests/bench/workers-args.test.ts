import { expect, test } from "bun:test";
import { parseBenchArgs } from "../../bench/args";
import { workersTable } from "../../bench/workers";

test("just bench --workers N: off by default, a count when given, refused when not a number", () => {
  expect(parseBenchArgs([])!.workers).toBe(0);
  expect(parseBenchArgs(["--workers", "2"])!.workers).toBe(2);
  expect(() => parseBenchArgs(["--workers", "two"])).toThrow("--workers expects an integer");
});

test("the workers table: req/s against one worker, CPU per request of all workers", () => {
  const table = workersTable(
    [
      { workers: 1, rps: 10_000, cpuPerRequest: 17.04 },
      { workers: 2, rps: 15_000, cpuPerRequest: 18.5 },
    ],
    2,
  );
  expect(table).toContain("| 1 | 10,000 | 1.00× | 17.0 |");
  expect(table).toContain("| 2 | 15,000 | 1.50× | 18.5 |");
  expect(table).toContain("2 CPUs shared by wrk");
});
