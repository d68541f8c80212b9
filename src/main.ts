#!/usr/bin/env bun
/** Entry point of the single `portcullis` executable. */
import { CliError } from "./cli/cli-error";
import { buildProgram } from "./cli/program";

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`portcullis: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  throw err;
}
