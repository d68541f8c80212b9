/** `portcullis token …`: the spec's token commands over /api/v1/tokens. */
import type { Command } from "commander";
import type { CommandContext } from "../context";
import { CliError } from "../cli-error";
import { renderChange, renderItem, renderList, type Column } from "../output";

interface TokenView {
  name: string;
  token_preview: string;
  hash: string;
  role: string;
  cert_email: string | null;
  created_at: string;
  created_by: string | null;
  token?: string;
}

const COLUMNS: Column<TokenView>[] = [
  { header: "Name", value: (t) => t.name },
  { header: "Role", value: (t) => t.role },
  { header: "Certificate Email", value: (t) => t.cert_email },
  { header: "Created", value: (t) => t.created_at, kind: "date" },
  { header: "Owner", value: (t) => t.created_by },
  { header: "Token", value: (t) => t.token_preview },
];

interface OwnedView {
  name: string;
  owned: { kind: string; id: string }[];
}

interface DeletedView {
  deleted: string;
  owned_resources_deleted: Record<string, number>;
}

/** What a token owns, one resource a line, said before it goes. */
export function ownedList(name: string, owned: readonly { kind: string; id: string }[]): string {
  return [`Token ${name} owns these resources; deleting it deletes them too:`, ...owned.map((o) => `  ${o.kind} ${o.id}`)].join("\n");
}

/** "deleted token ci and what it owned: 1 proxy, 2 route" */
export function deletedLine(deleted: DeletedView): string {
  const owned = Object.entries(deleted.owned_resources_deleted)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${n} ${kind}`);
  return `deleted token ${deleted.deleted}${owned.length > 0 ? ` and what it owned: ${owned.join(", ")}` : ""}`;
}

const ROLE_HELP = "admin, service-owner (default; user is its former name) or viewer (read-only)";

const path = (name: string) => `/api/v1/tokens/${encodeURIComponent(name)}`;

export function registerTokenCommands(program: Command, context: CommandContext): void {
  const token = program.command("token").description("Manage API tokens");

  const createToken = async (name: string, email: string | undefined, role: string | undefined) => {
    const { client, settings, print } = context();
    const created = await client.post<TokenView>("/api/v1/tokens/", { name, cert_email: email ?? null, ...(role === undefined ? {} : { role }) });
    print(renderItem({ ...created }, settings.format));
    if (settings.format === "table") print("Save this token now: `portcullis token show <name>` reveals it again.");
  };

  token
    .command("create")
    .description("Create a token (admin only) with a role and print it in full")
    .argument("<name>", "token name")
    .option("--role <role>", ROLE_HELP)
    .option("--email <email>", "certificate email for this token")
    .action((name: string, flags: { role?: string; email?: string }) => createToken(name, flags.email, flags.role));

  token
    .command("generate")
    .description("Create a token (admin only) and print it in full")
    .argument("<name>", "token name")
    .argument("[email]", "certificate email for this token")
    .option("--role <role>", ROLE_HELP)
    .action((name: string, email: string | undefined, flags: { role?: string }) => createToken(name, email, flags.role));

  token
    .command("show")
    .description("Show a token in full (owner or admin)")
    .argument("<name>", "token name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.get<TokenView>(`${path(name)}/reveal`)) }, settings.format));
    });

  token
    .command("list")
    .description("List the tokens you can see")
    .action(async () => {
      const { client, settings, print } = context();
      const rows = await client.get<TokenView[]>("/api/v1/tokens/");
      print(renderList(rows, COLUMNS, settings.format, "No tokens yet. Create one: portcullis token generate <name> [email]"));
    });

  token
    .command("delete")
    .description("Delete a token and every resource it owns (lists them and asks first, unless --yes)")
    .argument("<name>", "token name")
    .option("-y, --yes", "delete without asking, even when the token owns resources")
    .action(async (name: string, flags: { yes?: boolean }) => {
      const { client, settings, print, note, confirm } = context();
      if (!flags.yes) {
        const { owned } = await client.get<OwnedView>(`${path(name)}/owned`);
        if (owned.length > 0) {
          note(ownedList(name, owned));
          if (!confirm) throw new CliError(`token delete: ${name} owns ${owned.length} resource(s), listed above; pass --yes to delete them with it`);
          if (!(await confirm(`Delete token ${name} and these ${owned.length} resource(s)?`))) throw new CliError("token delete: nothing deleted");
        }
      }
      const deleted = await client.delete<DeletedView>(path(name));
      print(renderChange(deletedLine(deleted), { ...deleted }, settings.format));
    });

  token
    .command("email")
    .description("Set the certificate email of a token")
    .argument("<name>", "token name")
    .argument("<email>", "new email")
    .action(async (name: string, email: string) => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.put<TokenView>("/api/v1/tokens/email", { name, email })) }, settings.format));
    });

  token
    .command("info")
    .description("Show the token you are calling with")
    .action(async () => {
      const { client, settings, print } = context();
      print(renderItem({ ...(await client.get<TokenView>("/api/v1/tokens/info")) }, settings.format));
    });
}
