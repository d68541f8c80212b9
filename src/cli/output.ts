/**
 * Renders API results for people (table) and for scripts (json, yaml, csv).
 * Tables show relative times and ✓/✗; an empty list says how to create the
 * first item. json/yaml print the API's objects untouched; csv the raw values.
 */
import Table from "cli-table3";
import { stringify as toCsv } from "csv-stringify/sync";
import { stringify as toYaml } from "yaml";
import { expiresIn, relativeTime, timeUntil } from "./relative-time";
import type { OutputFormat } from "./settings";

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => unknown;
  /**
   * How the table shows the value; csv always gets it raw. "date" is a time
   * past ("5m ago"), "upcoming" one usually ahead ("in 5m"), "expiry" an
   * upcoming one that says so once past ("expired 3d ago").
   */
  readonly kind?: "text" | "date" | "upcoming" | "expiry" | "bool";
}

function cell(value: unknown, kind: Column<unknown>["kind"]): string {
  if (kind === "date") return relativeTime(value as string | null);
  if (kind === "upcoming") return timeUntil(value as string | null);
  if (kind === "expiry") return expiresIn(value as string | null);
  if (kind === "bool") return value ? "✓" : "✗";
  if (value === null || value === undefined || value === "") return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** No colours (output is often piped) and no rules between rows. */
const TABLE_STYLE = {
  style: { head: [], border: [] },
  chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
};
const plainTable = (head: string[]) => new Table({ head, ...TABLE_STYLE });

export function renderList<T>(rows: readonly T[], columns: readonly Column<T>[], format: OutputFormat, emptyHint: string): string {
  switch (format) {
    case "json":
      return JSON.stringify(rows, null, 2);
    case "yaml":
      return toYaml(rows).trimEnd();
    case "csv":
      return toCsv(
        rows.map((row) => columns.map((c) => raw(c.value(row)))),
        { header: true, columns: columns.map((c) => c.header) },
      ).trimEnd();
    case "table": {
      if (rows.length === 0) return emptyHint;
      const table = plainTable(columns.map((c) => c.header));
      for (const row of rows) table.push(columns.map((c) => cell(c.value(row), c.kind)));
      return table.toString();
    }
  }
}

export function renderItem(item: Record<string, unknown>, format: OutputFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(item, null, 2);
    case "yaml":
      return toYaml(item).trimEnd();
    case "csv":
      return toCsv([Object.values(item).map(raw)], { header: true, columns: Object.keys(item) }).trimEnd();
    case "table": {
      const table = new Table(TABLE_STYLE);
      for (const [key, value] of Object.entries(item)) {
        table.push({ [key]: cell(value, itemKind(key, value)) });
      }
      return table.toString();
    }
  }
}

/** How renderItem's table shows a field: by its name (`*_at` are times, some of them ahead) or its type. */
function itemKind(key: string, value: unknown): Column<unknown>["kind"] {
  if (key.endsWith("expires_at")) return "expiry";
  if (key.endsWith("retry_at")) return "upcoming";
  if (key.endsWith("_at")) return "date";
  return typeof value === "boolean" ? "bool" : "text";
}

function raw(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/**
 * What create/update commands print: one line for people (`created proxy
 * mcp.test → http://127.0.0.1:3000`); the API's whole object for any other
 * format. `show` prints every field as a table.
 */
export function renderChange(line: string, item: Record<string, unknown>, format: OutputFormat): string {
  return format === "table" ? line : renderItem(item, format);
}
