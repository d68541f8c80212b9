/**
 * The `portcullis` command line: `serve` runs the gateway; every other command
 * is a client of the REST API.
 */
import { Command, Option } from "commander";
import { VERSION } from "../core/version";
import { ApiClient } from "./api-client";
import { registerCertCommands } from "./commands/cert";
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
import { registerTokenCommands } from "./commands/token";
import { registerAuditLogCommands } from "./commands/logs-audit";
import { registerOAuthLogCommands } from "./commands/logs-oauth";
import type { CommandContext, CommandOutput } from "./context";
import { OUTPUT_FORMATS, resolveSettings, type GlobalFlags } from "./settings";

const STANDARD_OUTPUT: CommandOutput = {
  print: (text) => console.log(text),
  note: (text) => process.stderr.write(`${text}\n`),
  colour: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
};

export function buildProgram(env: Readonly<Record<string, string | undefined>> = process.env, output: CommandOutput = STANDARD_OUTPUT): Command {
  const program = new Command("portcullis")
    .description("HTTPS gateway with OAuth 2.1, automatic certificates and MCP support")
    .version(VERSION, "-V, --version", "print the version")
    .option("--token <token>", "API token (default: $TOKEN, $ADMIN_TOKEN, config file, ./data/admin-token)")
    .option("--base-url <url>", "API base URL (default: $API_URL or http://localhost:9000)")
    .addOption(new Option("--format <format>", "output format").choices([...OUTPUT_FORMATS]))
    .showHelpAfterError()
    .enablePositionalOptions();

  program
    .command("serve")
    .description("Run the gateway (configured by environment variables; see .env.example)")
    .action(async () => {
      const { serve } = await import("./serve-command");
      await serve();
    });

  program
    .command("version")
    .description("Print the version")
    .action(() => console.log(VERSION));

  const context: CommandContext = () => {
    const settings = resolveSettings(program.opts<GlobalFlags>(), env);
    return { settings, client: new ApiClient(settings), ...output };
  };
  registerTokenCommands(program, context);
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
  return program;
}
