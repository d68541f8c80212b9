/**
 * The `portcullis` command line: `serve` runs the gateway; every other command
 * is a client of the REST API.
 */
import { Argument, Command } from "commander";
import { BUILD_COMMIT, VERSION } from "../core/version";
import { ApiClient } from "./api-client";
import { registerBackupCommands } from "./commands/backup";
import { registerRestartCommand } from "./commands/restart";
import { registerCertCommands } from "./commands/cert";
import { registerClusterCommands } from "./commands/cluster";
import { registerConfigCommands } from "./commands/config";
import { registerLogCommands } from "./commands/logs";
import { registerOAuthCommands } from "./commands/oauth";
import { registerProxyCommands } from "./commands/proxy";
import { registerResourceCommands } from "./commands/resource";
import { registerServicePortCommands } from "./commands/service-ports";
import { registerRouteCommands } from "./commands/route";
import { registerExternalServiceCommands } from "./commands/service-external";
import { registerDockerServiceCommands } from "./commands/service";
import { registerServiceUpdateCommand } from "./commands/service-update";
import { registerStatusCommand } from "./commands/status";
import { registerTokenCommands } from "./commands/token";
import { registerClusterNodeCommands } from "./commands/cluster-nodes";
import { registerAuditLogCommands } from "./commands/logs-audit";
import { registerOAuthLogCommands } from "./commands/logs-oauth";
import type { CommandContext, CommandOutput } from "./context";
import { completionScript, SHELLS, type Shell } from "./completion";
import { askOnTerminal } from "./confirm";
import { detachGlobalCopies, globalFlagsOf, globalOptions, spreadGlobalOptions } from "./global-flags";
import { renderItem } from "./output";
import { resolveSettings, type OutputFormat } from "./settings";

const STANDARD_OUTPUT: CommandOutput = {
  print: (text) => console.log(text),
  note: (text) => process.stderr.write(`${text}\n`),
  colour: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  confirm: process.stdin.isTTY ? askOnTerminal : undefined,
};

export function buildProgram(env: Readonly<Record<string, string | undefined>> = process.env, output: CommandOutput = STANDARD_OUTPUT): Command {
  const program = new Command("portcullis")
    .description("HTTPS gateway with OAuth 2.1, automatic certificates and MCP support")
    .version(`${VERSION} (commit ${BUILD_COMMIT})`, "-V, --version", "print the version and the commit it was built from")
    // A mistake prints commander's one-line error (with "Did you mean …?" for a mistyped command) and this hint, not the whole help.
    .showHelpAfterError("(add --help for usage)")
    .configureHelp({ showGlobalOptions: true })
    .enablePositionalOptions();
  for (const option of globalOptions()) program.addOption(option);

  // The command whose action runs: its path carries the global flags given after the subcommand.
  let active: Command | undefined;
  program.hook("preAction", (_, actionCommand) => {
    active = actionCommand;
    detachGlobalCopies(program, actionCommand);
  });

  program
    .command("serve")
    .description("Run the gateway (configured by environment variables; see .env.example)")
    .action(async () => {
      const { serve } = await import("./serve-command");
      await serve();
    });

  program
    .command("version")
    .description("Print the version and the git commit the binary was built from")
    .action(() => {
      const format = globalFlagsOf(program, active).format;
      const build = { version: VERSION, commit: BUILD_COMMIT };
      output.print(format && format !== "table" ? renderItem(build, format as OutputFormat) : `${VERSION} (commit ${BUILD_COMMIT})`);
    });

  program
    .command("completion")
    .description("Print a shell completion script: source <(portcullis completion bash), or zsh; portcullis completion fish | source")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices([...SHELLS]))
    .action((shell: Shell) => output.print(completionScript(program, shell).trimEnd()));

  const context: CommandContext = () => {
    const settings = resolveSettings(globalFlagsOf(program, active), env);
    return { settings, client: new ApiClient(settings), ...output };
  };
  registerStatusCommand(program, context);
  registerTokenCommands(program, context);
  registerClusterCommands(program, context).description("The cluster: its gateway nodes, and API keys for nodes and automation");
  registerClusterNodeCommands(program, context);
  registerConfigCommands(program, context, env);
  registerProxyCommands(program, context);
  registerRouteCommands(program, context);
  registerCertCommands(program, context);
  registerOAuthCommands(program, context);
  registerResourceCommands(program, context);
  const serviceCommand = program.command("service").description("Manage services: Docker, external, internal and the unified registry");
  registerDockerServiceCommands(serviceCommand, context);
  registerServiceUpdateCommand(serviceCommand, context);
  registerExternalServiceCommands(serviceCommand, context);
  registerLogCommands(program, context);
  // `logs` may already exist (the request log's commands): the OAuth trace and the audit log join it.
  const logs = program.commands.find((command) => command.name() === "logs") ?? program.command("logs").description("Query the gateway's logs");
  registerOAuthLogCommands(logs, context);
  registerAuditLogCommands(logs, context);
  // `service` may already exist (Docker and external services): the global port commands join it.
  const service = program.commands.find((command) => command.name() === "service") ?? program.command("service").description("Manage services and their ports");
  registerServicePortCommands(service, context);
  registerBackupCommands(program, env, output);
  registerRestartCommand(program, env, output);
  spreadGlobalOptions(program);
  return program;
}
