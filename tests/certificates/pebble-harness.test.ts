/**
 * The pebble harness itself: a real ACME client (acme-client, in a child
 * process trusting pebble through NODE_EXTRA_CA_CERTS) gets a two-name
 * certificate over HTTP-01 from a local challenge server, and pebble refuses
 * REFUSED_DOMAIN with a rejectedIdentifier problem.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { join, resolve } from "node:path";
import { REFUSED_DOMAIN, startPebble, type Pebble } from "../helpers/pebble";

const ROOT = resolve(import.meta.dir, "../..");
const CHALLENGE_PATH = "/.well-known/acme-challenge/";

let pebble: Pebble;
let challenges: ReturnType<typeof Bun.serve>;
const keyAuthorizations = new Map<string, string>();
const validationRequests: string[] = [];

beforeAll(async () => {
  challenges = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (!url.pathname.startsWith(CHALLENGE_PATH)) return new Response("not found", { status: 404 });
      const token = url.pathname.slice(CHALLENGE_PATH.length);
      if (req.method === "PUT") keyAuthorizations.set(token, await req.text());
      else if (req.method === "DELETE") keyAuthorizations.delete(token);
      else {
        validationRequests.push(`${req.headers.get("host")} ${url.pathname}`);
        const answer = keyAuthorizations.get(token);
        return answer === undefined ? new Response("unknown token", { status: 404 }) : new Response(answer);
      }
      return new Response(null, { status: 204 });
    },
  });
  pebble = await startPebble({ httpPort: challenges.port! });
});

afterAll(async () => {
  await pebble?.stop();
  challenges?.stop(true);
});

type IssueResult = { ok: true; chainPem: string } | { ok: false; message: string; problem: { type: string; detail: string; status: number } | null };

async function issue(domains: string[]): Promise<IssueResult> {
  const child = Bun.spawn(
    [process.execPath, join(ROOT, "tests/fixtures/acme-issue.ts"), JSON.stringify({ directoryUrl: pebble.directoryUrl, domains, challengeServer: `http://127.0.0.1:${challenges.port}` })],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", NODE_EXTRA_CA_CERTS: pebble.caFile },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      timeout: 20_000,
      killSignal: "SIGKILL",
    },
  );
  const [code, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const line = stdout.trim().split("\n").pop() ?? "";
  if (code !== 0 || !line.startsWith("{")) throw new Error(`acme-issue exited with ${code}:\n${stdout}${stderr}\n${pebble.output()}`);
  return JSON.parse(line) as IssueResult;
}

const splitPem = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

describe("pebble test harness", () => {
  test("a two-name HTTP-01 order is validated against the local port and chains to the issuing root", async () => {
    const result = await issue(["app.example.test", "www.example.test"]);
    if (!result.ok) throw new Error(`issuance failed: ${result.message} ${JSON.stringify(result.problem)}\n${pebble.output()}`);

    const [leaf, intermediate, ...rest] = splitPem(result.chainPem).map((pem) => new X509Certificate(pem));
    expect(rest).toHaveLength(0);
    expect(leaf!.subjectAltName).toBe("DNS:app.example.test, DNS:www.example.test");
    const root = new X509Certificate(await pebble.issuingRootPem());
    expect(intermediate!.raw.equals(new X509Certificate(await pebble.intermediatePem()).raw)).toBe(true);
    expect(leaf!.checkIssued(intermediate!)).toBe(true);
    expect(leaf!.verify(intermediate!.publicKey)).toBe(true);
    expect(intermediate!.checkIssued(root)).toBe(true);
    expect(intermediate!.verify(root.publicKey)).toBe(true);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.subject).toContain("Pebble Root CA");

    // pebble really fetched both tokens from our port, under the names it validated.
    const hosts = new Set(validationRequests.map((line) => line.split(" ")[0]));
    expect(hosts).toEqual(new Set([`app.example.test:${challenges.port}`, `www.example.test:${challenges.port}`]));
  });

  test("REFUSED_DOMAIN (and its subdomains) get a rejectedIdentifier problem on newOrder", async () => {
    expect(pebble.refusedDomains).toEqual([REFUSED_DOMAIN]);
    for (const name of [REFUSED_DOMAIN, `api.${REFUSED_DOMAIN}`]) {
      const result = await issue([name]);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.problem).toEqual({
        type: "urn:ietf:params:acme:error:rejectedIdentifier",
        detail: `Order included an identifier for which issuance is forbidden by policy: "${name}"`,
        status: 400,
      });
    }
  });
});
