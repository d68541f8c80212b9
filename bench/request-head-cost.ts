/**
 * `bun bench/request-head-cost.ts`: CPU µs per request head for the raw
 * edge's parser (src/dispatcher/http1/request-head.ts), finding the head's
 * end and decoding it included, for wrk's two-line head, the same with a
 * bearer token, and a browser's twelve-header one. Best of 5 rounds of 300,000 parses.
 */
import { parseRequestHead } from "../src/dispatcher/http1/request-head";
import { findHeadEnd } from "../src/proxies/http1/response-head";

const HEADS: Record<string, Buffer> = {
  "wrk GET": Buffer.from("GET / HTTP/1.1\r\nHost: bench.local\r\n\r\n"),
  "browser GET, 12 headers": Buffer.from(
    [
      "GET /api/items?page=2 HTTP/1.1",
      "Host: app.example.com",
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
      "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      "Accept-Language: en-US,en;q=0.9",
      "Accept-Encoding: gzip, deflate, br",
      "Connection: keep-alive",
      "Cookie: session=abcdef0123456789; theme=dark",
      "Sec-Fetch-Dest: document",
      "Sec-Fetch-Mode: navigate",
      "Sec-Fetch-Site: none",
      "Upgrade-Insecure-Requests: 1",
      "",
      "",
    ].join("\r\n"),
  ),
  // Scenario (e): an RS256 access token is about 800 bytes.
  "wrk GET with an 800-byte bearer token": Buffer.from(`GET / HTTP/1.1\r\nHost: bench-auth.local\r\nAuthorization: Bearer ${"eyJhbGciOiJSUzI1NiJ9.".padEnd(800, "a")}\r\n\r\n`),
};

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

for (const [name, bytes] of Object.entries(HEADS)) {
  const parse = () => parseRequestHead(bytes.toString("latin1", 0, findHeadEnd(bytes, 0) - 4));
  for (let i = 0; i < 50_000; i++) parse();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const n = 300_000;
    const start = cpu();
    for (let i = 0; i < n; i++) parse();
    best = Math.min(best, (cpu() - start) / n);
  }
  console.log(`${name}: ${best.toFixed(3)} µs per head`);
}
