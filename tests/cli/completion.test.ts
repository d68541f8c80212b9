/**
 * `portcullis completion bash|zsh|fish`: each script is valid for its shell and
 * completes commands, subcommands, options and --format's values. bash runs
 * everywhere; zsh and fish are checked where installed.
 */
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { completionLevels } from "../../src/cli/completion";
import { buildProgram } from "../../src/cli/program";
import { runProgram } from "../helpers/cli-program";
import { tempDir } from "../helpers/temp";

const dir = tempDir("completion");
const home = tempDir("completion-home");

async function script(shell: string): Promise<string> {
  const run = await runProgram("http://127.0.0.1:1", undefined, ["completion", shell], home);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  const file = join(dir, `portcullis.${shell}`);
  writeFileSync(file, run.stdout);
  return file;
}

function run(command: string[]): { code: number; stdout: string; stderr: string } {
  const child = Bun.spawnSync(command, { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home } });
  return { code: child.exitCode, stdout: child.stdout.toString(), stderr: child.stderr.toString() };
}

/** What the bash function offers for the words typed so far (the last one being completed). */
function bashComplete(file: string, shell: "bash" | "zsh", words: string[]): string[] {
  const array = words.map((w) => `'${w}'`).join(" ");
  const out = run([shell, "-c", `source '${file}'; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _portcullis; printf '%s\\n' "\${COMPREPLY[@]}"`]);
  expect(out.stderr).toBe("");
  return out.stdout.split("\n").filter(Boolean);
}

const have = (binary: string) => Bun.which(binary) !== null;

describe("the command tree the scripts are made from", () => {
  test("every command and subcommand is a level; global flags are offered everywhere", () => {
    const levels = completionLevels(buildProgram({}));
    const root = levels.find((l) => l.path === "")!;
    expect(root.commands.map((c) => c.name)).toEqual(expect.arrayContaining(["proxy", "route", "token", "status", "completion", "version", "help"]));
    const routeShow = levels.find((l) => l.path === "route show")!;
    expect(routeShow.options.map((o) => o.long)).toEqual(expect.arrayContaining(["--format", "--token", "--base-url", "--api-url", "--help"]));
  });

  test("an unknown shell is refused with the allowed ones", async () => {
    const r = await runProgram("http://127.0.0.1:1", undefined, ["completion", "tcsh"], home);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("value 'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.");
  });
});

describe("bash", () => {
  test("the script is valid bash (bash -n)", async () => {
    const check = run(["bash", "-n", await script("bash")]);
    expect(check).toMatchObject({ code: 0, stderr: "" });
  });

  test("completes commands, subcommands, options and --format values via compgen", async () => {
    const file = await script("bash");
    expect(bashComplete(file, "bash", ["portcullis", "pro"])).toEqual(["proxy"]);
    expect(bashComplete(file, "bash", ["portcullis", "proxy", "cr"])).toEqual(["create"]);
    // Global flags before the subcommand, and their values, do not confuse where we are.
    expect(bashComplete(file, "bash", ["portcullis", "--format", "json", "route", "sh"])).toEqual(["show"]);
    expect(bashComplete(file, "bash", ["portcullis", "route", "show", "api", "--for"])).toEqual(["--format"]);
    expect(bashComplete(file, "bash", ["portcullis", "route", "list", "--format", ""])).toEqual(["table", "json", "yaml", "csv"]);
    expect(bashComplete(file, "bash", ["portcullis", "token", "delete", "x", "--y"])).toEqual(["--yes"]);
    // A word that is no command at this level completes nothing rather than something wrong.
    expect(bashComplete(file, "bash", ["portcullis", "zzz"])).toEqual([]);
  });

  test("`complete -p portcullis` names the function once sourced", async () => {
    const file = await script("bash");
    expect(run(["bash", "-c", `source '${file}'; complete -p portcullis`]).stdout.trim()).toBe("complete -F _portcullis portcullis");
  });
});

describe.skipIf(!have("zsh"))("zsh", () => {
  test("the script is valid zsh and offers the right level's words (zsh filters them by prefix itself)", async () => {
    const file = await script("zsh");
    expect(run(["zsh", "-n", file])).toMatchObject({ code: 0, stderr: "" });
    expect(bashComplete(file, "zsh", ["portcullis", "proxy", "cr"])).toContain("create");
    expect(bashComplete(file, "zsh", ["portcullis", "proxy", "cr"])).not.toContain("proxy");
  });
});

describe.skipIf(!have("fish"))("fish", () => {
  test("the script is valid fish and completes through `complete -C`", async () => {
    const file = await script("fish");
    expect(run(["fish", "--no-execute", file])).toMatchObject({ code: 0, stderr: "" });
    const complete = (line: string) =>
      run(["fish", "-c", `source '${file}'; complete -C '${line}'`]).stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
    expect(complete("portcullis pro")).toEqual(["proxy"]);
    expect(complete("portcullis proxy cr")).toEqual(["create"]);
    expect(complete("portcullis --format ")).toEqual(["csv", "json", "table", "yaml"]);
    expect(complete("portcullis route show x --for")).toEqual(["--format"]);
  });
});
