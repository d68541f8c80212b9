/**
 * /api/v1/tokens — API token management (spec "Token Management").
 *
 * Visibility: the admin sees every token; any other token sees only itself.
 * Only the admin creates tokens, of any role. Cluster API keys never reach these endpoints
 * (permissions.ts).
 * A resource the caller may not see answers 404, so existence is not leaked;
 * an action the caller may never take answers 403.
 */
import { Elysia, t } from "elysia";
import { generateApiToken, hashApiToken, previewApiToken } from "../../core/api-token";
import { isEmail } from "../../core/config";
import { ApiError, conflict, forbidden, invalid, notFound } from "../../core/errors";
import { tokenRoleOf, type TokenRecord, type TokenRepository } from "../../storage/token-repository";
import { authenticate, type Caller } from "../caller";
import type { CertificateManager } from "../../certificates/certificate-manager";
import { ADMIN_TOKEN_NAME } from "../admin-token-bootstrap";

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Names that would shadow the fixed paths under /tokens/, and the bootstrap admin token's name. */
const RESERVED_NAMES = new Set(["info", "generate", "email", "admin"]);

const CreateBody = t.Object(
  {
    name: t.String({ description: "Unique name: letters, digits, `_`, `.`, `-`; at most 64 characters" }),
    cert_email: t.Optional(t.Union([t.String(), t.Null()], { description: "Email used for ACME certificates" })),
    role: t.Optional(t.String({ description: "admin, service-owner (the default; `user` is its former name) or viewer (docs/permissions.md)" })),
  },
  { additionalProperties: false },
);

const EmailBody = t.Object(
  {
    email: t.String({ description: "New certificate email" }),
    name: t.Optional(t.String({ description: "Token to change (admin only); defaults to the caller" })),
  },
  { additionalProperties: false },
);

const TokenView = t.Object({
  name: t.String(),
  token_preview: t.String(),
  hash: t.String(),
  role: t.Union([t.Literal("admin"), t.Literal("service-owner"), t.Literal("viewer")]),
  cert_email: t.Union([t.String(), t.Null()]),
  created_at: t.String(),
  created_by: t.Union([t.String(), t.Null()]),
});

const TokenWithSecret = t.Composite([TokenView, t.Object({ token: t.String() })]);

export function tokenView(record: TokenRecord) {
  return {
    name: record.name,
    token_preview: previewApiToken(record.token),
    hash: record.hash,
    role: record.role,
    cert_email: record.cert_email,
    created_at: record.created_at,
    created_by: record.created_by,
  };
}

export function validateTokenName(name: string): void {
  if (!TOKEN_NAME.test(name)) {
    throw invalid("name: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit");
  }
  if (RESERVED_NAMES.has(name.toLowerCase())) throw invalid(`name: "${name}" is reserved`);
}

function validateEmail(field: string, email: string): void {
  if (!isEmail(email)) throw invalid(`${field}: ${JSON.stringify(email)} is not an email address`);
}

export function tokenRoutes(deps: { tokens: TokenRepository; certificateManager: Pick<CertificateManager, "dropRequestsOf"> }) {
  const { tokens } = deps;
  /** Loads a token the caller is allowed to see, or 404. */
  const visibleToken = async (caller: Caller, name: string): Promise<TokenRecord> => {
    const record = await tokens.getByName(name);
    if (!record || !(caller.role === "admin" || record.owner_token_hash === caller.hash || record.hash === caller.hash)) throw notFound(`token ${JSON.stringify(name)}`);
    return record;
  };

  const create = async ({ body, caller, set }: { body: typeof CreateBody.static; caller: Caller; set: { status?: number | string } }) => {
    if (caller.role !== "admin") throw forbidden("only the admin token can create tokens");
    validateTokenName(body.name);
    const role = body.role === undefined ? "service-owner" : tokenRoleOf(body.role);
    if (!role) throw invalid(`role: ${JSON.stringify(body.role).slice(0, 70)} is not a role; use admin, service-owner (or its former name user) or viewer`);
    if (body.cert_email) validateEmail("cert_email", body.cert_email);
    const secret = generateApiToken();
    const record: TokenRecord = {
      name: body.name,
      token: secret,
      hash: hashApiToken(secret),
      role,
      cert_email: body.cert_email ?? null,
      created_at: new Date().toISOString(),
      created_by: caller.name,
      owner_token_hash: caller.hash,
    };
    const result = await tokens.create(record);
    if (result === "name_taken") throw conflict(`a token named ${JSON.stringify(body.name)} already exists`);
    if (result !== "ok") throw new ApiError("internal_error", "token generation collided; retry");
    set.status = 201;
    return { ...tokenView(record), token: secret };
  };

  return new Elysia({ prefix: "/tokens", tags: ["tokens"] })
    .resolve(async ({ request }) => ({ caller: await authenticate(request, tokens) }))
    .get(
      "/",
      async ({ caller }) => {
        const all = await tokens.list();
        return all.filter((r) => caller.role === "admin" || r.owner_token_hash === caller.hash || r.hash === caller.hash).map(tokenView);
      },
      { response: t.Array(TokenView), detail: { summary: "List the tokens the caller can see" } },
    )
    .post("/", create, {
      body: CreateBody,
      response: { 201: TokenWithSecret },
      detail: { summary: "Create a token (admin only); the response holds the full token" },
    })
    .post("/generate", create, {
      body: CreateBody,
      response: { 201: TokenWithSecret },
      detail: { summary: "Generate a token for display (same as POST /tokens/)" },
    })
    .get("/info", async ({ caller }) => tokenView(await visibleToken(caller, caller.name)), {
      response: TokenView,
      detail: { summary: "The calling token" },
    })
    .put(
      "/email",
      async ({ body, caller }) => {
        const name = body.name ?? caller.name;
        validateEmail("email", body.email);
        await visibleToken(caller, name);
        const updated = await tokens.setCertEmail(name, body.email);
        if (!updated) throw notFound(`token ${JSON.stringify(name)}`);
        return tokenView(updated);
      },
      { body: EmailBody, response: TokenView, detail: { summary: "Set the certificate email of a token" } },
    )
    .get("/:name", async ({ caller, params }) => tokenView(await visibleToken(caller, params.name)), {
      response: TokenView,
      detail: { summary: "One token, without its secret" },
    })
    .get(
      "/:name/reveal",
      async ({ caller, params }) => {
        const record = await visibleToken(caller, params.name);
        return { ...tokenView(record), token: record.token };
      },
      { response: TokenWithSecret, detail: { summary: "The full token, to its owner or the admin" } },
    )
    .get(
      "/:name/owned",
      async ({ caller, params }) => {
        const record = await visibleToken(caller, params.name);
        return { name: record.name, owned: await tokens.owned(record.hash) };
      },
      {
        response: t.Object({ name: t.String(), owned: t.Array(t.Object({ kind: t.String(), id: t.String() })) }),
        detail: { summary: "What deleting the token would delete with it (its owned resources), to its owner or the admin" },
      },
    )
    .delete(
      "/:name",
      async ({ caller, params }) => {
        const record = await visibleToken(caller, params.name);
        if (record.name === ADMIN_TOKEN_NAME) throw forbidden("the admin token cannot be deleted; change ADMIN_TOKEN to rotate it");
        const deleted = await tokens.deleteCascading(record.name);
        if (!deleted) throw notFound(`token ${JSON.stringify(params.name)}`);
        const requests = await deps.certificateManager.dropRequestsOf(record.hash);
        if (requests > 0) deleted.certificate_request = requests;
        return { deleted: record.name, owned_resources_deleted: deleted };
      },
      {
        response: t.Object({ deleted: t.String(), owned_resources_deleted: t.Record(t.String(), t.Number()) }),
        detail: { summary: "Delete a token and every resource it owns" },
      },
    );
}
