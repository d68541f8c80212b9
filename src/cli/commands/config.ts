/**
 * `portcullis export`, `portcullis apply -f FILE` and `portcullis schema`:
 * the gateway's configuration as a file to keep in git (declarative/*).
 */
import type { Command } from "commander";
import { stringify as toYaml } from "yaml";
import { CliError } from "../cli-error";
import type { CommandContext, CommandOutput } from "../context";
import { configJsonSchema, KINDS, parseConfigDocument, type Kind } from "../declarative/config-document";
import { exportDocument } from "../declarative/entries";
import { applyChange, readGatewayState } from "../declarative/gateway-api";
import { planApply, type ApplyPlan, type Change, type Entry } from "../declarative/plan";
import { addSealedSecrets, appsToSet, describeApp, openSecrets, setApp, splitSecrets, type ProxyApp } from "../declarative/proxy-secrets";
import { addCurrentHashes, addSealedClientHashes, HASH_FIELDS, hasSealedClientHashes, isConfidentialEntry, openClientHashes, withoutUncreatableClients } from "../declarative/oauth-client-secrets";
import { readPassphrase, terminalAsker } from "../passphrase";

const SINGULAR: Record<Kind, string> = {
  certificates: "certificate",
  external_services: "external service",
  docker_services: "Docker service",
  proxies: "proxy",
  resources: "resource",
  routes: "route",
  oauth_clients: "OAuth client",
};

const show = (value: unknown) => (value === undefined ? "(unset)" : JSON.stringify(value));
/** A stored hash is secret material: a plan says that it changes, never what it is. */
const showField = (field: string, before: unknown, after: unknown) => (HASH_FIELDS.includes(field) ? `${field}: ${before === undefined || before === null ? "(unset)" : "(hidden)"} → (hidden)` : `${field}: ${show(before)} → ${show(after)}`);

/** One line per change, `+` create, `~` update (field: before → after), `-` delete. */
export function describeChange(change: Change): string {
  const what = `${SINGULAR[change.kind]} ${change.name}`;
  if (change.action === "create") return `+ create ${what}`;
  if (change.action === "delete") return `- delete ${what}`;
  const fields = Object.entries(change.body ?? {}).map(([field, value]) => showField(field, change.before?.[field], value));
  return `~ update ${what} (${fields.join("; ")})`;
}

export function describePlan(plan: ApplyPlan, apps: readonly ProxyApp[] = []): string[] {
  const lines = [...plan.changes.map(describeChange), ...apps.map(describeApp)];
  for (const conflict of plan.conflicts) lines.push(`! ${SINGULAR[conflict.kind]} ${conflict.name}: ${conflict.detail}`);
  for (const kept of plan.kept) lines.push(`  keep ${SINGULAR[kept.kind]} ${kept.name} (not in the file; --prune deletes it)`);
  lines.push(`${plan.changes.length + apps.length} to change, ${plan.unchanged} unchanged${plan.conflicts.length ? `, ${plan.conflicts.length} that apply cannot change` : ""}`);
  return lines;
}

type Env = Readonly<Record<string, string | undefined>>;
const PASSPHRASE_FILE = "--passphrase-file <file>";
const PASSPHRASE_FILE_HELP = "file holding the secrets' passphrase (else $PORTCULLIS_EXPORT_PASSPHRASE, else asked on the terminal)";

export function registerConfigCommands(program: Command, context: CommandContext, env: Env = process.env): void {
  program
    .command("export")
    .description("Print your configuration (proxies, routes, certificates, external and Docker services, resources; OAuth clients with the admin token) as YAML for `apply -f`")
    .option("--json", "JSON instead of YAML")
    .option("--include-secrets", "also write each proxy's GitHub OAuth app and each OAuth client's secret hash, encrypted with a passphrase")
    .option(PASSPHRASE_FILE, PASSPHRASE_FILE_HELP)
    .action(async (flags: { json?: boolean; includeSecrets?: boolean; passphraseFile?: string }) => {
      const { client, print, note, ask } = context();
      // A passphrase given for nothing means the caller believes secrets are written: say they are not.
      if (flags.passphraseFile && !flags.includeSecrets) throw new CliError("--passphrase-file is for --include-secrets; without it no secret is exported", 2);
      // Asked first: a refusal must come before anything is read.
      const passphrase = flags.includeSecrets ? await readPassphrase({ file: flags.passphraseFile, env, ask: asker(ask) }, { confirm: true }) : null;
      const { state, views } = await readGatewayState(client);
      const document = exportDocument(state);
      const withApp = new Set((views.proxies ?? []).filter((proxy) => proxy.github_client_secret_set).map((proxy) => String(proxy.hostname)));
      if (passphrase !== null) {
        await addSealedSecrets(client, ((document.proxies ?? []) as Entry[]).filter((entry) => withApp.has(String(entry.hostname))), passphrase);
      } else {
        for (const hostname of withApp) note(`note: proxy ${hostname}: its GitHub OAuth app is not exported (export --include-secrets writes it encrypted); set it again after apply (portcullis proxy github-oauth-set)`);
      }
      const clients = (document.oauth_clients ?? []) as Entry[];
      if (passphrase !== null) await addSealedClientHashes(client, clients, passphrase);
      else {
        for (const entry of clients.filter(isConfidentialEntry)) note(`note: OAuth client ${entry.client_id}: its secret is not exported (export --include-secrets writes its hash encrypted); apply creates it only where it exists already`);
      }
      for (const service of views.docker_services ?? []) {
        if (Object.keys((service.environment as object | undefined) ?? {}).length > 0) note(`note: Docker service ${service.service_name}: its environment is written as it is; keep the file as private as those values`);
        if (((service.ports as Entry[] | undefined) ?? []).some((port) => port.require_token)) note(`note: Docker service ${service.service_name}: source tokens of its ports are not exported; set them again (portcullis service port-update)`);
      }
      print(flags.json ? JSON.stringify(document, null, 2) : `# portcullis apply -f <this file>; schema: portcullis schema\n${toYaml(document)}`.trimEnd());
    });

  program
    .command("apply")
    .description("Make the gateway match a configuration file: create and update what it lists (and with --prune delete what it leaves out)")
    .requiredOption("-f, --file <file>", "YAML or JSON file (`-` reads stdin)")
    .option("--dry-run", "print what would change, change nothing")
    .option("--prune", "delete your resources of the kinds the file lists that it does not name")
    .option(PASSPHRASE_FILE, `${PASSPHRASE_FILE_HELP}; needed when the file has encrypted secrets`)
    .action(async (flags: { file: string; dryRun?: boolean; prune?: boolean; passphraseFile?: string }) => {
      const { client, print, note, ask } = context();
      const text = flags.file === "-" ? await Bun.stdin.text() : await readFile(flags.file);
      const parsed = parseConfigDocument(text);
      if (!parsed.ok) throw new CliError(`${flags.file}: not a valid configuration:\n  ${parsed.errors.join("\n  ")}`, 2);
      const { document: withoutApps, sealed } = splitSecrets(parsed.document);
      // Every secret is opened before anything is read or changed: a wrong passphrase applies nothing.
      // (A file read from stdin leaves no terminal to ask on.)
      const passphrase =
        sealed.length > 0 || hasSealedClientHashes(withoutApps)
          ? await readPassphrase({ file: flags.passphraseFile, env, ask: flags.file === "-" ? undefined : asker(ask) }, { confirm: false })
          : null;
      const apps = passphrase === null ? [] : openSecrets(sealed, passphrase);
      const document = passphrase === null ? withoutApps : openClientHashes(withoutApps, passphrase);
      const kinds = KINDS.filter((kind) => document[kind] !== undefined);
      const { state, caller } = await readGatewayState(client, kinds);
      // An empty list (an admin's export of a gateway without clients) asks nothing of them.
      if ((document.oauth_clients?.length ?? 0) > 0 && caller.role !== "admin") throw new CliError("oauth_clients: only the admin token manages OAuth clients; nothing was applied", 2);
      if (document.oauth_clients) await addCurrentHashes(client, state.oauth_clients ?? [], document.oauth_clients as Entry[]);
      const plan = withoutUncreatableClients(planApply(document, state, { prune: flags.prune === true }));
      // Compared before the changes: a proxy this apply creates has no app yet, so it counts as different.
      const appChanges = await appsToSet(client, apps);
      if (flags.dryRun) {
        print(describePlan(plan, appChanges).join("\n"));
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
      // After the proxies exist; a proxy the file deletes is not in `apps` (it is not in the file).
      for (const app of appChanges) {
        try {
          await setApp(client, app);
          print(describeApp(app));
        } catch (error) {
          failed++;
          print(`${describeApp(app)}: FAILED: ${(error as Error).message}`);
        }
      }
      for (const conflict of plan.conflicts) print(`! ${SINGULAR[conflict.kind]} ${conflict.name}: ${conflict.detail}`);
      note(`${plan.changes.length + appChanges.length - failed} changed, ${failed} failed, ${plan.unchanged} unchanged${plan.conflicts.length ? `, ${plan.conflicts.length} not applicable` : ""}`);
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

/** The output's way of asking, else the real terminal's (when stdin is one). */
function asker(ask: CommandOutput["ask"]): ((prompt: string) => Promise<string>) | undefined {
  return ask === undefined ? terminalAsker() : (ask ?? undefined);
}

async function readFile(path: string): Promise<string> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new CliError(`${path}: no such file`, 2);
  return file.text();
}
