/** What a record keeps of a query string: everything but credentials. */
import { expect, test } from "bun:test";
import { MAX_LOGGED_QUERY, redactedQuery } from "../../src/consumers/request-log/query-redaction";

test("no query, an empty one: nothing to keep", () => {
  expect(redactedQuery("http://a.test/path")).toBeUndefined();
  expect(redactedQuery("http://a.test/path?")).toBeUndefined();
});

test("ordinary parameters are kept as sent; credentials are redacted, whatever their case or encoding", () => {
  expect(redactedQuery("http://a.test/cb?page=2&code=abc123&state=xyz")).toBe("page=2&code=[redacted]&state=xyz");
  expect(redactedQuery("http://a.test/?ACCESS_TOKEN=t&Client_Secret=s&q=hello+world")).toBe("ACCESS_TOKEN=[redacted]&Client_Secret=[redacted]&q=hello+world");
  // %63ode is "code": spelled differently, still a code.
  expect(redactedQuery("http://a.test/?%63ode=abc&refresh_token=r&id_token=i&code_verifier=v")).toBe("%63ode=[redacted]&refresh_token=[redacted]&id_token=[redacted]&code_verifier=[redacted]");
  expect(redactedQuery("http://a.test/?token")).toBe("token=[redacted]");
});

test("a fragment is not part of the query, a malformed escape is kept as it came, and the length is bounded", () => {
  expect(redactedQuery("http://a.test/?a=1#code=x")).toBe("a=1");
  expect(redactedQuery("http://a.test/?%E0%A4%A=1")).toBe("%E0%A4%A=1");
  expect(redactedQuery(`http://a.test/?q=${"x".repeat(5000)}`)!.length).toBe(MAX_LOGGED_QUERY);
});
