import { describe, expect, test } from "bun:test";
import { parse as parseYaml } from "yaml";
import { renderItem, renderList, type Column } from "../../src/cli/output";
import { relativeTime } from "../../src/cli/relative-time";

const NOW = Date.parse("2026-01-10T12:00:00Z");

describe("relativeTime", () => {
  const cases: [string | null, string][] = [
    [null, "—"],
    ["2026-01-10T11:59:30Z", "just now"],
    ["2026-01-10T11:55:00Z", "5m ago"],
    ["2026-01-10T07:00:00Z", "5h ago"],
    ["2026-01-07T12:00:00Z", "3d ago"],
    ["2025-06-01T00:00:00Z", "2025-06-01"],
    ["2026-01-11T00:00:00Z", "in the future"],
    ["garbage", "garbage"],
  ];
  for (const [input, expected] of cases) test(`${input} → ${expected}`, () => expect(relativeTime(input, NOW)).toBe(expected));
});

interface Row {
  name: string;
  ok: boolean;
  at: string | null;
  note: string | null;
}
const rows: Row[] = [
  { name: "a", ok: true, at: new Date(Date.now() - 120_000).toISOString(), note: "x, \"quoted\"" },
  { name: "b", ok: false, at: null, note: null },
];
const columns: Column<Row>[] = [
  { header: "Name", value: (r) => r.name },
  { header: "OK", value: (r) => r.ok, kind: "bool" },
  { header: "When", value: (r) => r.at, kind: "date" },
  { header: "Note", value: (r) => r.note },
];

describe("renderList", () => {
  test("table: ✓/✗, relative times, — for empty", () => {
    const out = renderList(rows, columns, "table", "none");
    expect(out).toMatch(/│ a\s+│ ✓\s+│ 2m ago\s+│ x, "quoted"/);
    expect(out).toMatch(/│ b\s+│ ✗\s+│ —\s+│ —/);
  });
  test("table: empty state shows how to create the first item", () => {
    expect(renderList([], columns, "table", "No rows yet. Create one: x create")).toBe("No rows yet. Create one: x create");
  });
  test("csv: header and raw, quoted values", () => {
    const lines = renderList(rows, columns, "csv", "").split("\n");
    expect(lines[0]).toBe("Name,OK,When,Note");
    expect(lines[1]).toBe(`a,true,${rows[0]!.at},"x, ""quoted"""`);
    expect(lines[2]).toBe("b,false,,");
  });
  test("json and yaml: the objects untouched", () => {
    expect(JSON.parse(renderList(rows, columns, "json", ""))).toEqual(rows);
    expect(parseYaml(renderList(rows, columns, "yaml", ""))).toEqual(rows);
    expect(renderList([], columns, "json", "hint")).toBe("[]");
  });
});

describe("renderItem", () => {
  test("table is a key/value listing", () => {
    const out = renderItem({ name: "a", enabled: true, created_at: null }, "table");
    expect(out).toMatch(/│ name\s+│ a/);
    expect(out).toMatch(/│ enabled\s+│ ✓/);
  });
  test("csv has a header row", () => {
    expect(renderItem({ name: "a", n: 1 }, "csv")).toBe("name,n\na,1");
  });
});
