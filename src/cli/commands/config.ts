/**
 * `portcullis export`, `portcullis apply -f FILE` and `portcullis schema`:
 * the gateway's configuration as a file to keep in git (declarative/*).
 */
import type { Command } from "commander";
import { stringify as toYaml } from "yaml";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { configJsonSchema, KINDS, parseConfigDocument, type Kind } from "../declarative/config-document";
import { exportDocument } from "../declarative/entries";
import { applyChange, readGatewayState } from "../declarative/gateway-api";
import { planApply, type ApplyPlan, type Change } from "../declarative/plan";

const SINGULAR: Record<Kind, string> = {
  certificates: "certificate",
  external_services: "external service",
  proxies: "proxy",
  resources: "resource",
  routes: "route",
};

const show = (value: unknown) => (value === undefined ? "(unset)" : JSON.stringify(value));

/** One line per change, `+` create, `~` update (field: before → after), `-` delete. */
export function describeChange(change: Change): string {
  const what = `${SINGULAR[change.kind]} ${change.name}`;
  if (change.action === "create") return `+ create ${what}`;
  if (change.action === "delete") return `- delete ${what}`;
  const fields = Object.entries(change.body ?? {}).map(([field, value]) => `${field}: ${show(change.before?.[field])} → ${show(value)}`);
  return `~ update ${what} (${fields.join("; ")})`;
}

export function describePlan(plan: ApplyPlan): string[] {
  const lines = plan.changes.map(describeChange);
  for (const conflict of plan.conflicts) lines.push(`! ${SINGULAR[conflict.kind]} ${conflict.name}: ${conflict.detail}`);
  for (const kept of plan.kept) lines.push(`  keep ${SINGULAR[kept.kind]} ${kept.name} (not in the file; --prune deletes it)`);
  lines.push(`${plan.changes.length} to change, ${plan.unchanged} unchanged${plan.conflicts.length ? `, ${plan.conflicts.length} that apply cannot change` : ""}`);
  return lines;
}

export function registerConfigCommands(program: Command, context: CommandContext): void {
  program
    .command("export")
    .description("Print your configuration (proxies, routes, certificates, external services, resources) as YAML for `apply -f`")
    .option("--json", "JSON instead of YAML")
    .action(async (flags: { json?: boolean }) => {
      const { client, print, note } = context();
      const { state, views } = await readGatewayState(client);
      const document = exportDocument(state);
      for (const proxy of views.proxies ?? []) {
        if (proxy.github_client_secret_set) note(`note: proxy ${proxy.hostname}: its GitHub client secret is not exported; set it again after apply (portcullis proxy github-oauth-set)`);
      }
      print(flags.json ? JSON.stringify(document, null, 2) : `# portcullis apply -f <this file>; schema: portcullis schema\n${toYaml(document)}`.trimEnd());
    });

  program
    .command("apply")
    .description("Make the gateway match a configuration file: create and update what it lists (and with --prune delete what it leaves out)")
    .requiredOption("-f, --file <file>", "YAML or JSON file (`-` reads stdin)")
    .option("--dry-run", "print what would change, change nothing")
    .option("--prune", "delete your resources of the kinds the file lists that it does not name")
    .action(async (flags: { file: string; dryRun?: boolean; prune?: boolean }) => {
      const { client, print, note } = context();
      const text = flags.file === "-" ? await Bun.stdin.text() : await readFile(flags.file);
      const parsed = parseConfigDocument(text);
      if (!parsed.ok) throw new CliError(`${flags.file}: not a valid configuration:\n  ${parsed.errors.join("\n  ")}`, 2);
      const kinds = KINDS.filter((kind) => parsed.document[kind] !== undefined);
      const { state } = await readGatewayState(client, kinds);
      const plan = planApply(parsed.document, state, { prune: flags.prune === true });
      if (flags.dryRun) {
        print(describePlan(plan).join("\n"));
        return;
      }
      let failed = 0;
      for (const change of plan.changes) {
        try {
          await applyChange(client, change);
          print(describeChange(change));
        } catch (error) {
          failed++;
          print(`${describeChange(change)}: FAILED: ${(error as Error).message}`);
        }
      }
      for (const conflict of plan.conflicts) print(`! ${SINGULAR[conflict.kind]} ${conflict.name}: ${conflict.detail}`);
      note(`${plan.changes.length - failed} changed, ${failed} failed, ${plan.unchanged} unchanged${plan.conflicts.length ? `, ${plan.conflicts.length} not applicable` : ""}`);
      if (failed > 0 || plan.conflicts.length > 0) throw new CliError(`apply: ${failed} change(s) failed, ${plan.conflicts.length} could not be applied`);
    });

  program
    .command("schema")
    .description("Print the JSON Schema of the configuration file (for editors: yaml-language-server, VS Code)")
    .action(() => {
      const { print } = context();
      print(JSON.stringify(configJsonSchema(), null, 2));
    });
}

async function readFile(path: string): Promise<string> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new CliError(`${path}: no such file`, 2);
  return file.text();
}
