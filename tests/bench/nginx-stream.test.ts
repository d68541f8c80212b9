import { describe, expect, test } from "bun:test";
import { nginxStreamConfig, STREAM_MODULE } from "../../bench/nginx-stream";

describe("nginxStreamConfig", () => {
  test("one stream server per route; only PROXY protocol routes send the header", () => {
    const text = nginxStreamConfig({
      dir: "/tmp/x",
      listen: [1001, 1002],
      routes: [
        { upstreamPort: 2001, proxyProtocol: false },
        { upstreamPort: 2002, proxyProtocol: true },
      ],
      runAsRoot: false,
    });
    expect(text).toStartWith(`load_module ${STREAM_MODULE};`);
    expect(text).toContain("server { listen 127.0.0.1:1001; proxy_pass 127.0.0.1:2001; }");
    expect(text).toContain("server { listen 127.0.0.1:1002; proxy_pass 127.0.0.1:2002; proxy_protocol on; }");
    expect(text).not.toContain("user root");
  });
});
