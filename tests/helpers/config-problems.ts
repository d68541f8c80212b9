import { ConfigError, parseConfig } from "../../src/core/config";

/** The problems parseConfig reports for `env` (empty when it parses). */
export function configProblems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}
