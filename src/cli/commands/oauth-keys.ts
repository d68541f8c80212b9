/**
 * The authorization server's signing keys from the CLI: a new key for
 * OAUTH_JWT_PRIVATE_KEY_B64 (made here, offline, like `openssl genrsa 2048 |
 * base64 -w0`, or an EC P-256 key for ES256), and the gateway's current keys
 * and their rotation.
 */
import { generateRecord } from "../../auth/tokens/signing-key-record";
import type { JwtAlgorithm } from "../../core/oauth-config";
import { renderItem, renderList, type Column } from "../output";
import type { OutputFormat } from "../settings";

export const PRIVATE_KEY_VARIABLE = "OAUTH_JWT_PRIVATE_KEY_B64";

export interface GeneratedKey {
  /** The PKCS#8 PEM, base64-encoded on one line: the variable's value. */
  readonly value: string;
  /** The kid the gateway derives from it (RFC 7638 thumbprint), as `oauth keys` will show it. */
  readonly kid: string;
  /** The OAUTH_JWT_ALGORITHM the gateway must run with to accept it. */
  readonly algorithm: JwtAlgorithm;
  /** "RSA-2048" or "EC P-256". */
  readonly kind: string;
}

/** A fresh key for `algorithm` (RSA-2048 for RS256, EC P-256 for ES256) in the form the gateway reads from OAUTH_JWT_PRIVATE_KEY_B64. */
export async function generateSigningKey(algorithm: JwtAlgorithm = "RS256"): Promise<GeneratedKey> {
  const record = await generateRecord(algorithm);
  const kind = algorithm === "ES256" ? "EC P-256" : "RSA-2048";
  return { value: Buffer.from(record.private_pem, "utf8").toString("base64"), kid: record.kid, algorithm, kind };
}

/** table: the value alone (pipe it anywhere); --env: a .env line; json/yaml/csv: value, kid and size. */
export function renderGeneratedKey(key: GeneratedKey, format: OutputFormat, asEnvLine: boolean): string {
  if (asEnvLine) return `${PRIVATE_KEY_VARIABLE}=${key.value}`;
  if (format === "table") return key.value;
  return renderItem({ [PRIVATE_KEY_VARIABLE]: key.value, kid: key.kid, algorithm: key.algorithm, key: key.kind }, format);
}

/** What to do with it; on stderr, so that stdout stays the value. */
export function generatedKeyNote(key: GeneratedKey): string {
  return [
    `${key.kind} signing key for ${key.algorithm}, kid ${key.kid}. Keep it secret: it signs every access token.`,
    `Set ${PRIVATE_KEY_VARIABLE} to it${key.algorithm === "RS256" ? "" : ` and OAUTH_JWT_ALGORITHM=${key.algorithm}`} (in .env, or the service's environment) and restart the gateway;`,
    "`portcullis oauth keys` then shows this kid. Rotating means a new key and another restart.",
  ].join("\n");
}

interface PublishedKey {
  kid?: string;
  kty?: string;
  alg?: string;
  use?: string;
}

/** GET /api/v1/oauth/keys. */
export interface KeysView {
  current_kid: string;
  source: string;
  jwks: { keys: PublishedKey[] };
}

export function keyColumns(currentKid: string): Column<PublishedKey>[] {
  return [
    { header: "Kid", value: (k) => k.kid },
    { header: "Type", value: (k) => k.kty },
    { header: "Alg", value: (k) => k.alg },
    { header: "Use", value: (k) => k.use },
    { header: "Current", value: (k) => k.kid === currentKid, kind: "bool" },
  ];
}

/** json/yaml: the API's object; csv: the published keys; table: current kid and source, then the keys. */
export function renderKeys(view: KeysView, format: OutputFormat): string {
  if (format === "json" || format === "yaml") return renderItem({ ...view }, format);
  const keys = renderList(view.jwks.keys, keyColumns(view.current_kid), format, "No keys are published.");
  if (format === "csv") return keys;
  const source =
    view.source === "configured" ? `configured (${PRIVATE_KEY_VARIABLE}; rotate by changing it and restarting)` : "generated (kept in Redis; oauth key-rotate replaces it)";
  return `${renderItem({ current_kid: view.current_kid, source }, "table")}\nPublished keys (JWKS):\n${keys}`;
}
