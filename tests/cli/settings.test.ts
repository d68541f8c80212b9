import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../../src/cli/cli-error";
import { resolveSettings } from "../../src/cli/settings";
import { tempDir } from "../helpers/temp";

function home(config?: string) {
  const dir = tempDir("cli");
  if (config !== undefined) {
    mkdirSync(join(dir, ".config/portcullis"), { recursive: true });
    writeFileSync(join(dir, ".config/portcullis/config.yml"), config);
  }
  return dir;
}

describe("resolveSettings", () => {
  test("defaults: local API, table, the local admin-token file", () => {
    const dataDir = tempDir("data");
    writeFileSync(join(dataDir, "admin-token"), "acm_from_file\n");
    expect(resolveSettings({}, { HOME: home(), PORTCULLIS_DATA_DIR: dataDir })).toEqual({
      baseUrl: "http://localhost:9000",
      token: "acm_from_file",
      format: "table",
    });
  });

  test("flags beat the environment, which beats the config file", () => {
    const h = home("api_url: http://file:1\ntoken: acm_file\nformat: yaml\n");
    const fromFile = resolveSettings({}, { HOME: h, PORTCULLIS_DATA_DIR: "/nonexistent" });
    expect(fromFile).toEqual({ baseUrl: "http://file:1", token: "acm_file", format: "yaml" });
    const fromEnv = resolveSettings({}, { HOME: h, API_URL: "http://env:2/", TOKEN: "acm_env", ADMIN_TOKEN: "acm_admin" });
    expect(fromEnv).toEqual({ baseUrl: "http://env:2", token: "acm_env", format: "yaml" });
    expect(resolveSettings({}, { HOME: h, ADMIN_TOKEN: "acm_admin" }).token).toBe("acm_admin");
    const fromFlags = resolveSettings({ baseUrl: "https://flag:3", token: "acm_flag", format: "csv" }, { HOME: h, TOKEN: "acm_env" });
    expect(fromFlags).toEqual({ baseUrl: "https://flag:3", token: "acm_flag", format: "csv" });
  });

  test("bad values are clear errors", () => {
    expect(() => resolveSettings({ baseUrl: "ftp://x" }, { HOME: home() })).toThrow(CliError);
    expect(() => resolveSettings({ format: "xml" }, { HOME: home() })).toThrow(/expected one of table, json, yaml, csv/);
    expect(() => resolveSettings({}, { HOME: home("token: [unclosed") })).toThrow(/not valid YAML/);
    expect(() => resolveSettings({}, { HOME: home("- a list\n") })).toThrow(/expected a mapping/);
  });
});
