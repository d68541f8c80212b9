/**
 * What a client cannot make a backend believe: identity and forwarding headers
 * are the gateway's, whatever their spelling. CGI, WSGI and Rack map
 * `X_Auth_User` and `X-Auth-User` to the same variable, so an underscore
 * spelling of a header the gateway drops or replaces is dropped as well.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { forwardTarget, upstreamRequestHeaders, type ForwardContext } from "../../src/proxies";
import { rawExchange, startEchoBackend, startGateway, type Echo } from "../proxies/harness";

const backend = startEchoBackend();
const gateway = startGateway(forwardTarget(backend.url, { requestHeaders: { "X-Tenant": "blue" } }));
afterAll(async () => {
  await gateway.stop();
  await backend.stop();
});

async function forwardRaw(headerLines: string): Promise<Echo> {
  const answer = await rawExchange(gateway.port, `GET /h HTTP/1.1\r\nHost: a.example\r\n${headerLines}Connection: close\r\n\r\n`);
  return JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as Echo;
}

describe("underscore spellings of headers the gateway owns", () => {
  test("identity, forwarding, framing and custom headers in underscore form never reach the backend", async () => {
    const echo = await forwardRaw(
      "X_Auth_User_Name: mallory\r\nX-Auth_Email: m@evil\r\nX_Forwarded_For: 6.6.6.6\r\nX_Real_IP: 6.6.6.6\r\n" +
        "X_Forwarded_Host: evil\r\nX_Forwarded_Proto: https\r\nContent_Length: 99\r\nTransfer_Encoding: chunked\r\nX_Tenant: red\r\n",
    );
    const underscored = Object.keys(echo.headers).filter((name) => name.includes("_"));
    expect(underscored).toEqual([]);
    expect(echo.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(echo.headers["x-real-ip"]).toBe("127.0.0.1");
    expect(echo.headers["x-tenant"]).toBe("blue");
  });

  test("other headers with underscores pass unchanged", async () => {
    const echo = await forwardRaw("X_Request_Tag: keep\r\nApp_Version: 3\r\n");
    expect(echo.headers["x_request_tag"]).toBe("keep");
    expect(echo.headers["app_version"]).toBe("3");
  });

  test("with edge auth: underscore spellings of the proxy's identity prefix are dropped", () => {
    const context: ForwardContext = {
      clientIp: "127.0.0.1",
      proto: "https",
      trustedPeer: false,
      identity: { stripPrefix: "x-user-", headers: [["x-user-name", "alice"]], dropAuthorization: true, rewriteCookie: (c) => c },
    };
    const incoming = new Headers([
      ["x_user_name", "mallory"],
      ["X-User_Role", "admin"],
      ["x_user", "kept: not under the prefix x-user-"],
    ]);
    const out = upstreamRequestHeaders(incoming, forwardTarget("http://127.0.0.1:1"), context);
    expect(out.get("x-user-name")).toBe("alice");
    expect([...out.keys()].filter((name) => name.includes("_"))).toEqual(["x_user"]);
  });
});
