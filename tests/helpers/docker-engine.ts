/**
 * A private Docker API for one test file: Debian's podman (runtime runc)
 * serving the Docker Engine API on its own unix socket, with its own storage,
 * run and tmp directories, so tests share no state with each other or the
 * machine. Holds one offline image built with `podman import` from Debian's
 * busybox-static and a small server script (nothing is pulled).
 *
 * The image (TEST_IMAGE) exposes 8080/tcp; its command prints
 * "portcullis-test-image listening on {PORT}" and serves
 * "hello from {GREETING}" with busybox httpd on PORT (default 8080).
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { preChosenPort } from "./ports";

export const TEST_IMAGE = "localhost/portcullis-test:1";

export interface TestDockerEngine {
  /** For DOCKER_HOST: unix://{socketPath}, or tcp://127.0.0.1:{port}. */
  readonly dockerHost: string;
  readonly socketPath: string;
  /** Runs the podman CLI against this engine's storage. */
  podman(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The engine's view of one container (podman inspect), or null when there is none. */
  inspect(name: string): Promise<any | null>;
  /** Names of the containers labelled as this service's (portcullis.service). */
  containersOf(service: string): Promise<string[]>;
  /** Creates a bridge network in this engine (its own bridge interface and subnet, so engines running side by side do not clash). */
  createNetwork(name: string): Promise<void>;
  stop(): Promise<void>;
}

const SERVE_SCRIPT = `#!/bin/sh
PORT="\${PORT:-8080}"
mkdir -p /www
echo "hello from \${GREETING:-the container}" > /www/index.html
echo "portcullis-test-image listening on $PORT"
httpd -f -p "$PORT" -h /www &
trap 'kill $! 2>/dev/null; exit 0' TERM INT
wait
`;

async function run(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(argv, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

let networkCounter = 0;

/** `listen: "tcp"` serves the API on tcp://127.0.0.1:{free port} instead of a unix socket. */
export async function startTestDockerEngine(options: { listen?: "unix" | "tcp" } = {}): Promise<TestDockerEngine> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-podman-"));
  const conf = join(dir, "containers.conf");
  // DESIGN.md "Platform facts": runc, cgroupfs and no default ulimits make podman run here.
  // Networks this engine creates are kept in its own directory, not the machine's /etc/cni/net.d.
  mkdirSync(join(dir, "networks"));
  writeFileSync(conf, `[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[network]\nnetwork_config_dir = "${dir}/networks"\n`);
  const storage = join(dir, "storage.conf");
  writeFileSync(storage, `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/root"\nrunroot = "${dir}/run"\n`);
  const env = { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage };
  const global = ["--root", join(dir, "root"), "--runroot", join(dir, "run"), "--tmpdir", join(dir, "tmp")];
  const podman = (...args: string[]) => run(["podman", ...global, ...args], env);

  // The test image: busybox-static and the server script, imported offline.
  const rootfs = join(dir, "image");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  chmodSync(join(rootfs, "bin/busybox"), 0o755);
  for (const applet of ["sh", "httpd", "mkdir", "echo", "kill", "sleep", "cat"]) symlinkSync("busybox", join(rootfs, "bin", applet));
  writeFileSync(join(rootfs, "bin/serve"), SERVE_SCRIPT, { mode: 0o755 });
  const tarball = join(dir, "image.tar");
  const tarred = await run(["tar", "-C", rootfs, "-cf", tarball, "."], {});
  if (tarred.code !== 0) throw new Error(`tar failed: ${tarred.stderr}`);
  const imported = await podman("import", "--change", "EXPOSE 8080/tcp", "--change", 'CMD ["/bin/serve"]', tarball, TEST_IMAGE);
  if (imported.code !== 0) throw new Error(`podman import failed (is podman installed? scripts/test installs it): ${imported.stderr}`);

  const socketPath = join(dir, "docker.sock");
  const tcpPort = options.listen === "tcp" ? preChosenPort() : null;
  const dockerHost = tcpPort === null ? `unix://${socketPath}` : `tcp://127.0.0.1:${tcpPort}`;
  const service = Bun.spawn(["podman", ...global, "system", "service", "--time=0", dockerHost], {
    env: { ...process.env, ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  const ready = async () => {
    try {
      const res = tcpPort === null ? await fetch("http://d/_ping", { unix: socketPath } as RequestInit) : await fetch(`http://127.0.0.1:${tcpPort}/_ping`);
      return res.ok;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 300 && service.exitCode === null && !(await ready()); i++) await Bun.sleep(20);
  if (!(await ready())) {
    service.kill("SIGKILL");
    throw new Error(`podman system service did not answer on ${dockerHost}: ${await new Response(service.stderr).text()}`);
  }

  return {
    dockerHost,
    socketPath,
    podman,
    async inspect(name) {
      const out = await podman("container", "inspect", name);
      return out.code === 0 ? JSON.parse(out.stdout)[0] : null;
    },
    async containersOf(service) {
      const out = await podman("ps", "--all", "--filter", `label=portcullis.service=${service}`, "--format", "{{.Names}}");
      if (out.code !== 0) throw new Error(`podman ps failed: ${out.stderr}`);
      return out.stdout.split("\n").filter(Boolean);
    },
    async createNetwork(name) {
      // Through the engine's API, so the running service knows the network at once (its CLI would write a file the service has already read).
      // Interface names are host-wide (15 characters at most); the subnet is one of 10.128-254.x.0/24 at random.
      const tag = `${process.pid.toString(36)}${(networkCounter++).toString(36)}`.slice(-9);
      const subnet = `10.${128 + Math.floor(Math.random() * 127)}.${Math.floor(Math.random() * 256)}.0/24`;
      const body = { Name: name, Driver: "bridge", Options: { "com.docker.network.bridge.name": `pcnet${tag}` }, IPAM: { Config: [{ Subnet: subnet }] } };
      const init = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
      const res = tcpPort === null ? await fetch("http://d/networks/create", { ...init, unix: socketPath } as RequestInit) : await fetch(`http://127.0.0.1:${tcpPort}/networks/create`, init);
      if (!res.ok) throw new Error(`network create ${name} failed: ${res.status} ${await res.text()}`);
    },
    async stop() {
      await podman("rm", "--all", "--force", "--time", "0");
      service.kill("SIGTERM");
      await service.exited;
      // Again once the API is gone: a request still in flight when the first ran (a test that timed out) may have made one more.
      await podman("rm", "--all", "--force", "--time", "0");
      await podman("system", "reset", "--force").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
