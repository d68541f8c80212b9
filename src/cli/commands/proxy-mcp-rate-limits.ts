/**
 * `--rate-limits` of `portcullis proxy mcp-set`: a proxy's mcp_rate_limits
 * written `name=rate,rate;…`, e.g.
 * `search=60/minute,1000/hour;delete_*=5/minute;method:resources/read=10/s`
 * (a tool name or glob, or `method:` and a JSON-RPC method or glob; a rate
 * is calls/second, /minute or /hour), or as the API's JSON array. Pure.
 */
import { CliError } from "../cli-error";

export interface RateLimitRuleText {
  tool?: string;
  method?: string;
  per_second?: number;
  per_minute?: number;
  per_hour?: number;
}

const UNITS: Readonly<Record<string, "per_second" | "per_minute" | "per_hour">> = {
  s: "per_second",
  sec: "per_second",
  second: "per_second",
  m: "per_minute",
  min: "per_minute",
  minute: "per_minute",
  h: "per_hour",
  hr: "per_hour",
  hour: "per_hour",
};
const RATE = /^(\d+)\s*\/\s*([a-z]+)$/i;
const EXAMPLE = '"search=60/minute,1000/hour;method:resources/read=10/second"';

/** The rules for the flag's text; "" → null (no limits). */
export function parseRateLimits(flag: string, value: string): RateLimitRuleText[] | null {
  const text = value.trim();
  if (text === "") return null;
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new CliError(`${flag}: not valid JSON (${(err as Error).message}); e.g. '[{"tool":"search","per_minute":60}]'`);
    }
    if (!Array.isArray(parsed)) throw new CliError(`${flag}: expected a JSON array of rules`);
    return parsed as RateLimitRuleText[];
  }
  const rules: RateLimitRuleText[] = [];
  for (const entry of text.split(";").map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.lastIndexOf("=");
    if (eq <= 0) throw new CliError(`${flag}: ${JSON.stringify(entry)} is not name=rate; e.g. ${EXAMPLE}`);
    const name = entry.slice(0, eq).trim();
    const rule: RateLimitRuleText = name.startsWith("method:") ? { method: name.slice("method:".length) } : { tool: name };
    for (const rate of entry.slice(eq + 1).split(/[,\s]+/).filter(Boolean)) {
      const match = RATE.exec(rate);
      const field = match ? UNITS[match[2]!.toLowerCase()] : undefined;
      if (!match || !field) throw new CliError(`${flag}: ${JSON.stringify(rate)} is not a rate like 60/minute (per second, minute or hour)`);
      rule[field] = Number(match[1]);
    }
    rules.push(rule);
  }
  return rules;
}

/** The rules as the flag writes them, for a table. */
export function formatRateLimits(rules: readonly RateLimitRuleText[] | null): string | null {
  if (!rules || rules.length === 0) return null;
  return rules
    .map((rule) => {
      const name = rule.method !== undefined ? `method:${rule.method}` : (rule.tool ?? "");
      const rates = (["per_second", "per_minute", "per_hour"] as const).filter((f) => rule[f] !== undefined).map((f) => `${rule[f]}/${f.slice(4)}`);
      return `${name}=${rates.join(",")}`;
    })
    .join("; ");
}
