/**
 * `portcullis logs oauth` (sign-ins, one line each) and `portcullis logs
 * oauth-flow <client_id|user|flow_id>` (one sign-in from start to end, with
 * the reason of any refusal), over /api/v1/logs/oauth.
 */
import type { Command } from "commander";
import { CliError } from "../cli-error";
import type { CommandContext } from "../context";
import { renderList, type Column } from "../output";
import type { OAuthFlow } from "../../consumers/oauth-events/query";

interface FlowList {
  flows: OAuthFlow[];
  count: number;
}

const COLUMNS: Column<OAuthFlow>[] = [
  { header: "Started", value: (f) => f.started_at, kind: "date" },
  { header: "Flow", value: (f) => f.flow_id },
  { header: "Client", value: (f) => f.client_id },
  { header: "User", value: (f) => f.user },
  { header: "IP", value: (f) => f.ip },
  { header: "Proxy", value: (f) => f.proxy },
  { header: "Last step", value: (f) => f.steps[f.steps.length - 1]?.step },
  { header: "Outcome", value: (f) => f.outcome },
  { header: "Reason", value: (f) => f.reason },
];

const FLOW_ID = /^[0-9a-f]{32}$/;

function flowQuery(filters: { clientId?: string; user?: string; ip?: string; hours?: string; limit?: string }): string {
  const query = new URLSearchParams();
  if (filters.clientId) query.set("client_id", filters.clientId);
  if (filters.user) query.set("user", filters.user);
  if (filters.ip) query.set("ip", filters.ip);
  if (filters.hours) query.set("hours", filters.hours);
  if (filters.limit) query.set("limit", filters.limit);
  return `/api/v1/logs/oauth?${query}`;
}

/** Pure: one flow as lines a person reads top to bottom. */
export function renderFlow(flow: OAuthFlow): string {
  const who = [`client ${flow.client_id ?? "—"}`, `user ${flow.user ?? "—"}`, `ip ${flow.ip ?? "—"}`, ...(flow.proxy ? [`proxy ${flow.proxy}`] : [])].join(" · ");
  const lines = [`Flow ${flow.flow_id} (${flow.started_at}) · ${who}`, `Outcome: ${flow.outcome}${flow.reason ? ` — ${flow.reason}` : ""}`];
  for (const step of flow.steps) {
    const time = step.ts.slice(11, 23);
    lines.push(`  ${time}  ${step.step.padEnd(24)} ${step.outcome.padEnd(8)} ${step.reason ?? ""}`.trimEnd());
  }
  return lines.join("\n");
}

/** Adds `oauth` and `oauth-flow` under `portcullis logs`. */
export function registerOAuthLogCommands(logs: Command, context: CommandContext): void {
  logs
    .command("oauth")
    .description("OAuth sign-ins, newest first: who, from where, how far each got and why it was refused (admin)")
    .option("--client-id <id>", "only this OAuth client's flows")
    .option("--user <user>", "only this user's flows")
    .option("--ip <ip>", "only flows from this client address")
    .option("--hours <n>", "how far back (default 24)")
    .option("--limit <n>", "flows at most (default 50)")
    .action(async (options: { clientId?: string; user?: string; ip?: string; hours?: string; limit?: string }) => {
      const { client, settings, print } = context();
      const { flows } = await client.get<FlowList>(flowQuery(options));
      print(renderList(flows, COLUMNS, settings.format, "No OAuth sign-ins in this window."));
    });

  logs
    .command("oauth-flow")
    .description("One sign-in from start to end, step by step, with the reason of any refusal (admin)")
    .argument("[who]", "a client_id, a user, or a flow id")
    .option("--client-id <id>", "the OAuth client")
    .option("--user <user>", "the user")
    .option("--hours <n>", "how far back (default 24)")
    .option("--limit <n>", "how many of the latest matching sign-ins to show (default 1)", "1")
    .action(async (who: string | undefined, options: { clientId?: string; user?: string; hours?: string; limit: string }) => {
      const { client, settings, print } = context();
      let flows: OAuthFlow[];
      if (who && FLOW_ID.test(who)) {
        flows = [await client.get<OAuthFlow>(`/api/v1/logs/oauth/flow/${who}`)];
      } else {
        if (!who && !options.clientId && !options.user) throw new CliError("logs oauth-flow: name a client_id, a user or a flow id (or pass --client-id / --user)");
        const base = { clientId: options.clientId, user: options.user, hours: options.hours, limit: options.limit };
        // A bare name is tried as a client first, then as a user.
        flows = (await client.get<FlowList>(flowQuery(who && !options.clientId ? { ...base, clientId: who } : base))).flows;
        if (flows.length === 0 && who && !options.clientId && !options.user) flows = (await client.get<FlowList>(flowQuery({ ...base, user: who }))).flows;
      }
      if (settings.format !== "table") {
        print(renderList(flows, COLUMNS, settings.format, ""));
        return;
      }
      print(flows.length === 0 ? `No OAuth sign-in found for ${who ?? options.clientId ?? options.user} in this window.` : flows.map(renderFlow).join("\n\n"));
    });
}
