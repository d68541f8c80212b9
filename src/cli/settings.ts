/**
 * Where the CLI finds the API and its token. Precedence: flags, then the
 * environment (API_URL; TOKEN, then ADMIN_TOKEN), then the config file
 * (~/.config/portcullis/config.yml), then the local gateway's defaults
 * (http://localhost:9000 and <data dir>/admin-token when readable).
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { ADMIN_TOKEN_FILE } from "../api/admin-token-bootstrap";
import { CliError } from "./cli-error";

export const OUTPUT_FORMATS = ["table", "json", "yaml", "csv"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface CliSettings {
  readonly baseUrl: string;
  readonly token?: string;
  readonly format: OutputFormat;
}

export interface GlobalFlags {
  token?: string;
  baseUrl?: string;
  format?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export function configFilePath(env: Env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "portcullis", "config.yml");
}

interface ConfigFile {
  api_url?: string;
  token?: string;
  format?: string;
}

function readConfigFile(path: string): ConfigFile {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, "utf8"));
  } catch (err) {
    throw new CliError(`${path}: not valid YAML (${(err as Error).message})`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) throw new CliError(`${path}: expected a mapping with api_url, token, format`);
  return parsed as ConfigFile;
}

function readLocalAdminToken(env: Env): string | undefined {
  const file = join(resolve(env.PORTCULLIS_DATA_DIR || "data"), ADMIN_TOKEN_FILE);
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function resolveSettings(flags: GlobalFlags, env: Env): CliSettings {
  const file = readConfigFile(configFilePath(env));
  const nonEmpty = (...values: (string | undefined)[]) => values.find((v) => v !== undefined && v.trim() !== "")?.trim();

  const baseUrl = nonEmpty(flags.baseUrl, env.API_URL, file.api_url) ?? "http://localhost:9000";
  try {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    throw new CliError(`API URL ${JSON.stringify(baseUrl)} is not an http(s) URL (set --base-url or API_URL)`);
  }

  const format = (nonEmpty(flags.format, file.format) ?? "table").toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new CliError(`--format ${JSON.stringify(format)}: expected one of ${OUTPUT_FORMATS.join(", ")}`);
  }

  const token = nonEmpty(flags.token, env.TOKEN, env.ADMIN_TOKEN, file.token) ?? readLocalAdminToken(env);
  return { baseUrl: baseUrl.replace(/\/+$/, ""), token, format: format as OutputFormat };
}
