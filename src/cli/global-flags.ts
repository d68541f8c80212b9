/**
 * Global flags (--token, --base-url/--api-url, --format) in any position:
 * `portcullis route show api --format json` as well as
 * `portcullis --format json route show api`.
 *
 * Commander reads a program's options only before the subcommand here
 * (positional options, so a subcommand may reuse a name: `logs audit --token
 * <name>` filters by token name). So every command gets hidden copies of the
 * global flags it does not define itself, and the action reads the flags from
 * the program and those copies along the command's path, the deepest winning.
 */
import { Option, type Command } from "commander";
import { OUTPUT_FORMATS, type GlobalFlags } from "./settings";

export function globalOptions(): Option[] {
  return [
    new Option("--token <token>", "API token (default: $TOKEN, $ADMIN_TOKEN, config file, ./data/admin-token)"),
    new Option("--base-url <url>", "API base URL (default: $API_URL, config file, or http://localhost:9000)"),
    new Option("--api-url <url>", "the same as --base-url"),
    new Option("--format <format>", "output format (default: table, or the config file's)").choices([...OUTPUT_FORMATS]),
  ];
}

/** The option attributes each command got as copies of a global flag (not its own option of the same name). */
const copies = new WeakMap<Command, Set<string>>();

/** Adds the hidden copies to every command below `program`; call once all commands are registered. */
export function spreadGlobalOptions(program: Command): void {
  const visit = (command: Command) => {
    const added = new Set<string>();
    for (const option of globalOptions()) {
      if (command.options.some((own) => own.long === option.long)) continue;
      command.addOption(option.hideHelp());
      added.add(option.attributeName());
    }
    copies.set(command, added);
    command.commands.forEach(visit);
  };
  program.commands.forEach(visit);
}

/** The copies' values, taken out of each command's options by detachGlobalCopies. */
const detached = new WeakMap<Command, Record<string, unknown>>();

/**
 * Takes the copies' values out of the options of `command` and its parents
 * before the action runs, so an action that turns its options into a query
 * (logs audit) never sends --format, let alone --token, to the API.
 */
export function detachGlobalCopies(program: Command, command: Command): void {
  for (let c: Command | null = command; c && c !== program; c = c.parent) {
    const values = c.opts();
    const taken: Record<string, unknown> = {};
    for (const name of copies.get(c) ?? []) {
      taken[name] = values[name];
      c.setOptionValue(name, undefined);
      delete values[name];
    }
    detached.set(c, taken);
  }
}

/** The global flags given anywhere on the path from the program to `command`, the deepest winning. */
export function globalFlagsOf(program: Command, command: Command | undefined): GlobalFlags {
  const path: Command[] = [];
  for (let c: Command | null | undefined = command; c && c !== program; c = c.parent) path.unshift(c);
  const merged: Record<string, unknown> = { ...program.opts() };
  for (const c of path) {
    for (const [name, value] of Object.entries(detached.get(c) ?? {})) if (value !== undefined) merged[name] = value;
  }
  const flags = merged as GlobalFlags & { apiUrl?: string };
  return { token: flags.token, baseUrl: flags.baseUrl ?? flags.apiUrl, format: flags.format };
}
