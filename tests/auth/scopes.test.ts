/** Scopes, the pure rules: what a scope token is, which scopes the server offers, and which a sign-in gets. */
import { describe, expect, test } from "bun:test";
import { OAuthError } from "../../src/auth/oauth-error";
import { LiveScopeCatalog, scopesOfHost, supportedScopesOf, type ScopeBearingHost, type ScopeBearingTable } from "../../src/auth/scopes/scope-catalog";
import { MAX_SUPPORTED_SCOPES, registrationScopeOptions, scopeTokenProblem, splitScope } from "../../src/auth/scopes/scope-syntax";
import { grantedScope, type ScopeRequest } from "../../src/auth/server/scope-grant";

const host = (record: ScopeBearingHost["record"], routeScopes: string[][] = []): ScopeBearingHost => ({
  record,
  routes: [...routeScopes.map((requiredScopes) => ({ authPolicy: { requiredScopes } })), { authPolicy: null }, {}],
});

const table = (hosts: Record<string, ScopeBearingHost>): ScopeBearingTable => ({
  entries: () => Object.values(hosts),
  lookup: (name) => hosts[name],
});

describe("scope tokens (RFC 6749 §3.3)", () => {
  test.each(["mcp:read", "files:read", "https://api.example.com/scope", "a", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~", "x".repeat(128)])("accepted: %p", (scope) => {
    expect(scopeTokenProblem(scope)).toBeNull();
  });
  test.each([
    ["", /empty/],
    ["x".repeat(129), /longer than 128/],
    ["files read", /character/],
    ['say"', /character/],
    ["back\\slash", /character/],
    ["tab\there", /character/],
    ["nul\u0000", /character/],
    ["del\u007f", /character/],
    ["café", /character/],
  ])("refused: %p", (scope, problem) => {
    expect(scopeTokenProblem(scope)).toMatch(problem);
  });
  test("a scope parameter splits on spaces, each token once", () => {
    expect(splitScope("  a b  a c ")).toEqual(["a", "b", "c"]);
  });
  test("a client naming no scope registers the default scopes the server offers", () => {
    expect(registrationScopeOptions(["mcp:read", "files:read", "mcp:admin"]).defaultScopes).toEqual(["mcp:read", "mcp:admin"]);
  });
});

describe("the scopes the server offers", () => {
  test("the MCP scopes first, then every configured one, sorted, each once", () => {
    const hosts = [
      host({ resource_scopes: ["files:read", "mcp:read"], auth_allowed_scopes: ["files:write"] }),
      host({ oauth_server_scopes: ["tenant:x"], resource_scopes: null }, [["route:admin", "files:read"]]),
      host({}),
    ];
    expect(supportedScopesOf(hosts)).toEqual({ scopes: ["mcp:read", "mcp:write", "mcp:admin", "files:read", "files:write", "route:admin", "tenant:x"], dropped: 0 });
  });
  test(`bounded at ${MAX_SUPPORTED_SCOPES}, defaults kept, the same cut on every node`, () => {
    const many = Array.from({ length: 1200 }, (_, i) => `s${String(i).padStart(4, "0")}`);
    const { scopes, dropped } = supportedScopesOf([host({ resource_scopes: many.slice(0, 600) }), host({ auth_allowed_scopes: many.slice(600) })]);
    expect(scopes.length).toBe(MAX_SUPPORTED_SCOPES);
    expect(scopes.slice(0, 4)).toEqual(["mcp:read", "mcp:write", "mcp:admin", "s0000"]);
    expect(dropped).toBe(1200 - (MAX_SUPPORTED_SCOPES - 3));
  });
  test("one host's scopes: resource, auth and route requirements, and its MCP endpoint's per-tool and per-method scopes", () => {
    expect(scopesOfHost(host({ resource_scopes: ["a"], auth_allowed_scopes: ["b"] }, [["c"]])).sort()).toEqual(["a", "b", "c"]);
    const mcp = host({ mcp_tool_scopes: { "delete_*": ["files:write", "files:admin"], search: ["files:read"] }, mcp_method_scopes: { "prompts/*": ["prompts:use"] } });
    expect(scopesOfHost(mcp).sort()).toEqual(["files:admin", "files:read", "files:write", "prompts:use"]);
  });
  test("the live catalog recomputes only when the table is replaced, and says what did not fit", () => {
    let current = table({ "a.example": host({ resource_scopes: ["files:read"] }) });
    let entriesRead = 0;
    const counted = () => ({ ...current, entries: () => (entriesRead++, current.entries()) });
    let snapshot = counted();
    const overflows: number[] = [];
    const catalog = new LiveScopeCatalog(() => snapshot, (n) => overflows.push(n));
    expect(catalog.all()).toContain("files:read");
    catalog.all();
    expect(entriesRead).toBe(1);
    expect(catalog.forHost("a.example")).toEqual(["files:read"]);
    expect(catalog.forHost("unknown.example")).toEqual([]);
    current = table({ "b.example": host({ resource_scopes: Array.from({ length: 1000 }, (_, i) => `x${i}`) }) });
    snapshot = counted();
    expect(catalog.all()).not.toContain("files:read");
    expect(overflows).toEqual([3]);
  });
});

describe("the scope a sign-in gets", () => {
  const base: ScopeRequest = { requested: null, registered: "mcp:read mcp:write", supported: ["mcp:read", "mcp:write", "mcp:admin", "files:read"], usedByResources: [] };
  const refusal = (request: Partial<ScopeRequest>) => {
    try {
      grantedScope({ ...base, ...request });
    } catch (err) {
      return `${(err as OAuthError).code}: ${(err as OAuthError).description}`;
    }
    return "granted";
  };

  test("no scope asked: what the client registered and the server still offers", () => {
    expect(grantedScope(base)).toBe("mcp:read mcp:write");
    expect(grantedScope({ ...base, registered: "mcp:read gone:away" })).toBe("mcp:read");
  });
  test("registered scopes may be asked for, narrowed, deduplicated", () => {
    expect(grantedScope({ ...base, requested: "mcp:write mcp:write" })).toBe("mcp:write");
  });
  test("step-up: a scope the resource uses is granted though the client registered less", () => {
    expect(grantedScope({ ...base, requested: "mcp:read mcp:write mcp:admin", usedByResources: ["mcp:read", "mcp:admin"] })).toBe("mcp:read mcp:write mcp:admin");
  });
  test("a scope neither registered nor used by the resources is refused", () => {
    expect(refusal({ requested: "mcp:read mcp:admin", usedByResources: ["files:read"] })).toMatch(/^invalid_scope: scope "mcp:admin" is neither registered/);
  });
  test("a scope the server does not offer (here) is refused, even if the client registered it", () => {
    expect(refusal({ requested: "nobody:knows" })).toBe('invalid_scope: scope "nobody:knows" is not supported');
    expect(refusal({ requested: "mcp:read", supported: ["files:read"], usedByResources: ["mcp:read"] })).toMatch(/not supported/);
  });
  test("raw bytes in the request are named, bounded, and refused", () => {
    expect(refusal({ requested: `"><script>${"x".repeat(500)}` })).toMatch(/^invalid_scope: scope "\\"><script>x+" is not supported$/);
  });
});
