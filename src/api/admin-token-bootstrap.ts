/**
 * The admin token exists from the first start. ADMIN_TOKEN, when set, is the
 * source of truth (changing it rotates the token). When unset, one is generated
 * on the first start only and saved to `<data dir>/admin-token` (mode 0600)
 * for the operator and the local CLI. It is shown once when stdout is a
 * terminal; otherwise stdout is a log (a file under `just up`, the journal,
 * `docker logs`) that must stay one JSON record per line and never hold the
 * token, so only a record naming the file is written.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateApiToken, hashApiToken } from "../core/api-token";
import type { Logger } from "../core/logger";
import type { TokenRecord, TokenRepository } from "../storage/token-repository";

export const ADMIN_TOKEN_NAME = "admin";
export const ADMIN_TOKEN_FILE = "admin-token";

export async function ensureAdminToken(options: {
  tokens: TokenRepository;
  configuredToken?: string;
  adminEmail?: string;
  dataDir: string;
  log: Logger;
  /** Where a generated token may be shown, if it is a terminal (process.stdout by default). */
  terminal?: { readonly isTTY?: boolean; write(text: string): unknown };
}): Promise<void> {
  const { tokens, configuredToken, log } = options;
  const existing = await tokens.getByName(ADMIN_TOKEN_NAME);

  if (configuredToken) {
    const hash = hashApiToken(configuredToken);
    if (!existing) {
      await createAdmin(tokens, configuredToken, options.adminEmail);
      log.info("admin token created from ADMIN_TOKEN");
    } else if (existing.hash !== hash) {
      await tokens.replaceSecret(ADMIN_TOKEN_NAME, configuredToken, hash);
      log.warn("ADMIN_TOKEN changed: the previous admin token no longer works");
    }
    return;
  }
  if (existing) return;

  const secret = generateApiToken();
  if ((await createAdmin(tokens, secret, options.adminEmail)) !== "ok") return; // another node won the race
  const file = join(options.dataDir, ADMIN_TOKEN_FILE);
  writeFileSync(file, secret + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  const terminal = options.terminal ?? process.stdout;
  if (terminal.isTTY) {
    terminal.write(
      `\nGenerated the admin token (shown once; also saved to ${file}, mode 0600):\n\n  ${secret}\n\n` +
        "Set ADMIN_TOKEN to choose your own.\n\n",
    );
    log.info({ file }, "admin token generated");
  } else {
    log.info({ file }, `admin token generated and saved to ${file} (not printed: stdout is not a terminal)`);
  }
}

function createAdmin(tokens: TokenRepository, secret: string, email?: string) {
  const record: TokenRecord = {
    name: ADMIN_TOKEN_NAME,
    token: secret,
    hash: hashApiToken(secret),
    role: "admin",
    cert_email: email ?? null,
    created_at: new Date().toISOString(),
    created_by: null,
    owner_token_hash: null,
  };
  return tokens.create(record);
}
