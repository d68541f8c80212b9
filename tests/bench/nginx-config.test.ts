import { describe, expect, test } from "bun:test";
import { nginxConfig } from "../../bench/nginx";

describe("nginxConfig", () => {
  const base = { dir: "/tmp/x", port: 8001, backendPort: 9000, runAsRoot: false };

  test("the reference proxy sends no forwarding headers of its own", () => {
    const config = nginxConfig(base);
    expect(config).toContain("listen 127.0.0.1:8001;");
    expect(config).not.toContain("X-Forwarded-For");
  });

  test("the forwarding server sends what Portcullis sends, on its own port, to the same upstream", () => {
    const config = nginxConfig({ ...base, forwardingPort: 8002 });
    const server = config.slice(config.indexOf("listen 127.0.0.1:8002;"));
    for (const header of ["Host $host", "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Real-IP $remote_addr", "X-Forwarded-Proto $scheme", "X-Forwarded-Host $host"]) {
      expect(server).toContain(`proxy_set_header ${header};`);
    }
    expect(server).toContain("proxy_pass http://backend;");
    expect(server).toContain('proxy_set_header Connection "";');
  });
});
