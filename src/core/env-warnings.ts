/**
 * Variables set in the environment that look like the gateway's but are not
 * (HTTP_PROT, PORTCULLIS_DATADIR): a typo there silently leaves the default in
 * place, so `serve` warns at start and names the variable probably meant.
 */
import { ConfigError, parseConfig } from "./config";
import { closest } from "./edit-distance";
import { ALLOCATOR_DEFAULTS, WORKER_VARIABLES } from "../workers/worker-env";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Read by the CLI or the build (scripts/build.ts) rather than parseConfig, by
 * parseConfig only when another variable is set (OIDC_* need OIDC_ISSUER_URL),
 * or by the runtime (the allocator settings workers get).
 */
const ALSO_KNOWN = [
  "API_URL",
  "TOKEN",
  "NO_COLOR",
  "XDG_CONFIG_HOME",
  "PORTCULLIS_BUILD_COMMIT",
  "OIDC_CLIENT_SECRET",
  "OIDC_SCOPES",
  "OIDC_USERNAME_CLAIM",
  ...WORKER_VARIABLES,
  ...Object.keys(ALLOCATOR_DEFAULTS),
];

/**
 * Common variables of other programs that sit close to ours (HTTP_PROXY is
 * two edits from HTTP_PORT): never worth a warning.
 */
const OTHER_PROGRAMS = new Set(["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY", "HOSTNAME", "HOST", "PORT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"]);

/** Every variable parseConfig reads for this environment (it asks for each, set or not), plus ALSO_KNOWN. */
export function knownVariables(env: Env = {}): Set<string> {
  const names = new Set(ALSO_KNOWN);
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === "string") names.add(key);
      return target[key as string];
    },
  });
  try {
    parseConfig(recording);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  return names;
}

/** One warning per suspicious variable, naming the likely intended one when there is one. */
export function unknownVariableWarnings(env: Env): string[] {
  const known = new Set([...knownVariables({}), ...knownVariables(env)]);
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || OTHER_PROGRAMS.has(name) || !/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
    // Short names differ from each other in one or two letters by chance; ask for a closer match.
    const guess = closest(name, known, name.length < 8 ? 1 : 2);
    if (name.startsWith("PORTCULLIS_")) {
      warnings.push(`${name} is set but portcullis does not read it${guess ? `; did you mean ${guess}?` : ""}`);
    } else if (guess) {
      warnings.push(`${name} is set but portcullis does not read it; did you mean ${guess}?`);
    }
  }
  return warnings;
}
