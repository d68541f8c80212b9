/** docs/permissions.md shows exactly the table the API enforces (src/api/permissions.ts). */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { accessOf, PERMISSIONS, PRINCIPALS } from "../../src/api/permissions";
import { ROOT } from "../helpers/gateway-process";

const CELL = { allow: "✓", own: "own", deny: "403" } as const;

test("the documented matrix is the enforced one, row for row", () => {
  const documented = readFileSync(join(ROOT, "docs/permissions.md"), "utf8")
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim()));
  const enforced = Object.entries(PERMISSIONS).map(([key, rule]) =>
    rule === "public" ? [`\`${key}\``, "public", "public", "public", "public", "public"] : [`\`${key}\``, ...PRINCIPALS.map((p) => CELL[accessOf(rule, p)]), "401"],
  );
  expect(documented).toEqual(enforced);
});
