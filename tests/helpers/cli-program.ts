/**
 * Runs the real CLI program in this process, as main.ts does, with its output
 * captured and commander's exits turned into a code: for tests that drive the
 * CLI against an in-process gateway.
 */
import { expect } from "bun:test";
import { Command, CommanderError } from "commander";
import { CliError } from "../../src/cli/cli-error";
import { buildProgram } from "../../src/cli/program";

export interface ProgramRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `extraEnv`: more of the CLI's environment (e.g. PORTCULLIS_EXPORT_PASSPHRASE). */
export function runProgram(apiUrl: string, token: string | undefined, args: string[], home: string, extraEnv: Record<string, string> = {}): Promise<ProgramRun> {
  return runProgramIn({ API_URL: apiUrl, HOME: home, PORTCULLIS_DATA_DIR: "/nonexistent", ...(token ? { TOKEN: token } : {}), ...extraEnv }, args);
}

/** The program with exactly `env` as its environment (commands that read local settings, like backup and restore). */
export async function runProgramIn(env: Record<string, string>, args: string[]): Promise<ProgramRun> {
  const out: string[] = [];
  const err: string[] = [];
  // ask: null — a test never waits on the terminal it was started from.
  const program = buildProgram(env, { print: (t) => out.push(`${t}\n`), note: (t) => err.push(`${t}\n`), ask: null });
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
    command.commands.forEach(quiet);
  };
  quiet(program);
  let code = 0;
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CliError) {
      err.push(`portcullis: ${e.message}\n`);
      code = e.exitCode;
    } else if (e instanceof CommanderError) {
      code = e.exitCode;
    } else {
      throw e;
    }
  }
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/**
 * Commands against one gateway's API with one token: `cli` runs one, `ok` one
 * that must succeed (returning its stdout), `json` the same with --format
 * json, parsed. `apiUrl` is read at each call, so a suite can start its
 * gateway in beforeAll.
 */
export function cliSession(apiUrl: () => string, token: string, home: string, extraEnv: Record<string, string> = {}) {
  const cli = (...args: string[]) => runProgram(apiUrl(), token, args, home, extraEnv);
  const ok = async (...args: string[]) => {
    const run = await cli(...args);
    expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 0, stderr: "" });
    return run.stdout;
  };
  const json = async (...args: string[]) => JSON.parse(await ok("--format", "json", ...args));
  return { cli, ok, json };
}
