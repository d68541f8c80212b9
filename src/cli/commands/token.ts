/** `portcullis token …`: the spec's token commands over /api/v1/tokens. */
import type { Command } from "commander";
import type { CommandContext } from "../context";
import { renderItem, renderList, type Column } from "../output";

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

const path = (name: string) => `/api/v1/tokens/${encodeURIComponent(name)}`;

export function registerTokenCommands(program: Command, context: CommandContext): void {
  const token = program.command("token").description("Manage API tokens");

  token
    .command("generate")
    .description("Create a token (admin only) and print it in full")
    .argument("<name>", "token name")
    .argument("[email]", "certificate email for this token")
    .action(async (name: string, email: string | undefined) => {
      const { client, settings, print } = context();
      const created = await client.post<TokenView>("/api/v1/tokens/", { name, cert_email: email ?? null });
      print(renderItem({ ...created }, settings.format));
      if (settings.format === "table") print("Save this token now: `portcullis token show <name>` reveals it again.");
    });

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
    .description("Delete a token and every resource it owns")
    .argument("<name>", "token name")
    .action(async (name: string) => {
      const { client, settings, print } = context();
      print(renderItem(await client.delete<Record<string, unknown>>(path(name)), settings.format));
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
