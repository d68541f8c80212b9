/**
 * `portcullis completion bash|zsh|fish`: shell completion generated from the
 * program's own command tree, so it never lists a command that does not exist.
 * Commands complete at every level; options (the command's own and the global
 * ones) when the word starts with "-"; --format's values after --format.
 */
import type { Command } from "commander";
import { OUTPUT_FORMATS } from "./settings";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

interface Level {
  /** Command names from the program down, joined by spaces; "" is the program itself. */
  path: string;
  commands: { name: string; description: string }[];
  options: { long: string; description: string }[];
}

/** Every command with subcommands or options, as the completion sees it. */
export function completionLevels(program: Command): Level[] {
  const levels: Level[] = [];
  const visit = (command: Command, path: string) => {
    const commands = command.commands.map((c) => ({ name: c.name(), description: c.description() }));
    if (path === "") commands.push({ name: "help", description: "display help for a command" });
    const options = command.options
      .filter((o) => o.long)
      .map((o) => ({ long: o.long!, description: o.description }));
    options.push({ long: "--help", description: "display help for command" });
    levels.push({ path, commands, options });
    for (const c of command.commands) visit(c, path === "" ? c.name() : `${path} ${c.name()}`);
  };
  visit(program, "");
  return levels;
}

const words = (items: readonly string[]) => [...new Set(items)].join(" ");

function bash(program: Command): string {
  const levels = completionLevels(program);
  const known = levels.filter((l) => l.path !== "").map((l) => `"${l.path}"`);
  const caseOf = (pick: (l: Level) => string) => levels.map((l) => `    "${l.path}") echo "${pick(l)}" ;;`).join("\n");
  return `# bash completion for portcullis. Load it with:  source <(portcullis completion bash)
_portcullis_known() {
  case "$1" in
    ${known.join("|")}) return 0 ;;
  esac
  return 1
}
_portcullis_commands() {
  case "$1" in
${caseOf((l) => words(l.commands.map((c) => c.name)))}
  esac
}
_portcullis_options() {
  case "$1" in
${caseOf((l) => words(l.options.map((o) => o.long)))}
  esac
}
_portcullis() {
  local cur prev path word i
  # \${array[@]:i:1} is 0-based in bash and in zsh (whose own array subscripts start at 1).
  cur="\${COMP_WORDS[@]:$COMP_CWORD:1}"
  prev="\${COMP_WORDS[@]:$((COMP_CWORD - 1)):1}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[@]:$i:1}"
    case "$word" in -*) continue ;; esac
    if _portcullis_known "\${path:+$path }$word"; then path="\${path:+$path }$word"; fi
  done
  if [[ "$prev" == "--format" ]]; then
    COMPREPLY=($(compgen -W "${OUTPUT_FORMATS.join(" ")}" -- "$cur"))
  elif [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_portcullis_options "$path")" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(_portcullis_commands "$path")" -- "$cur"))
  fi
}
complete -F _portcullis portcullis
`;
}

/** zsh runs the bash function through its bash compatibility layer. */
function zsh(program: Command): string {
  return `#compdef portcullis
# zsh completion for portcullis. Load it with:  source <(portcullis completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(program).split("\n").slice(1).join("\n")}`;
}

const fishQuote = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

function fish(program: Command): string {
  const levels = completionLevels(program);
  const lines = [
    "# fish completion for portcullis. Load it with:  portcullis completion fish | source",
    "function __portcullis_path",
    `    set -l known ${levels.filter((l) => l.path !== "").map((l) => fishQuote(l.path)).join(" ")}`,
    "    set -l path ''",
    "    for word in (commandline -opc)[2..-1]",
    "        string match -q -- '-*' $word; and continue",
    "        set -l candidate (string trim -- \"$path $word\")",
    "        contains -- $candidate $known; and set path $candidate",
    "    end",
    "    echo $path",
    "end",
    "function __portcullis_at",
    "    set -l path (__portcullis_path)",
    "    test \"$path\" = \"$argv[1]\"",
    "end",
    "complete -c portcullis -f",
    `complete -c portcullis -l format -x -a ${fishQuote(OUTPUT_FORMATS.join(" "))}`,
  ];
  for (const level of levels) {
    const at = `-n ${fishQuote(`__portcullis_at ${fishQuote(level.path)}`)}`;
    for (const c of level.commands) lines.push(`complete -c portcullis ${at} -a ${fishQuote(c.name)} -d ${fishQuote(c.description)}`);
    for (const o of level.options) {
      if (o.long === "--format") continue;
      lines.push(`complete -c portcullis ${at} -l ${fishQuote(o.long.slice(2))} -d ${fishQuote(o.description)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  return { bash, zsh, fish }[shell](program);
}
