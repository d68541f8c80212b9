/**
 * A Docker host reached over ssh, for DOCKER_HOST=ssh://: Debian's sshd on a
 * loopback port with its own host key, accepting one client key, whose
 * ForceCommand checks that the client asked for `docker system dial-stdio`
 * (what docker-modem runs) and relays stdio to a test engine's API socket
 * with socat. Needs openssh-server and socat (scripts/test installs them);
 * logs in the user running the tests.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { preChosenPort } from "./ports";

export interface TestSshDockerHost {
  /** ssh://{user}@127.0.0.1:{port} */
  readonly dockerHost: string;
  /** The client's private key (DOCKER_SSH_KEY). */
  readonly keyPath: string;
  /** A known_hosts file listing this sshd's host key (DOCKER_SSH_KNOWN_HOSTS). */
  readonly knownHostsPath: string;
  /** A second key pair, not authorized, and a host key that is not this sshd's: for refusals. */
  readonly strangerKeyPath: string;
  readonly strangerHostKeyPublic: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function run(argv: string[]): Promise<void> {
  const child = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed: ${stderr}`);
}

export async function startTestSshDockerHost(engineSocketPath: string): Promise<TestSshDockerHost> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-sshd-"));
  const key = (name: string) => run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(dir, name)]);
  await Promise.all([key("host_key"), key("client_key"), key("stranger_key"), key("stranger_host_key")]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")));
  const port = preChosenPort();
  const hostPublic = readFileSync(join(dir, "host_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostPublic}\n`);
  const relay = join(dir, "relay.sh");
  writeFileSync(relay, `#!/bin/sh\n[ "$SSH_ORIGINAL_COMMAND" = "docker system dial-stdio" ] || { echo "unexpected command: $SSH_ORIGINAL_COMMAND" >&2; exit 1; }\nexec socat STDIO UNIX-CONNECT:${engineSocketPath}\n`, { mode: 0o755 });
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      "ListenAddress 127.0.0.1",
      `Port ${port}`,
      `HostKey ${join(dir, "host_key")}`,
      "PidFile none",
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "UsePAM no",
      "StrictModes no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      `ForceCommand ${relay}`,
      "",
    ].join("\n"),
  );
  try {
    mkdirSync("/run/sshd", { recursive: true }); // sshd's privilege separation directory, when run as root
  } catch {
    // Not root: sshd then serves only its own user, without privilege separation.
  }
  const sshd = Bun.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", config], { stdout: "ignore", stderr: "pipe" });
  const listening = async () => {
    try {
      const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      socket.end();
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 250 && sshd.exitCode === null && !(await listening()); i++) await Bun.sleep(20);
  if (!(await listening())) {
    sshd.kill("SIGKILL");
    throw new Error(`sshd did not listen on 127.0.0.1:${port} (is openssh-server installed? scripts/test installs it): ${await new Response(sshd.stderr).text()}`);
  }
  // sshd logs in the user running the tests (os.userInfo() answers "unknown" under Bun here).
  const user = (await new Response(Bun.spawn(["id", "-un"], { stdout: "pipe" }).stdout).text()).trim();
  return {
    dockerHost: `ssh://${user}@127.0.0.1:${port}`,
    keyPath: join(dir, "client_key"),
    knownHostsPath: join(dir, "known_hosts"),
    strangerKeyPath: join(dir, "stranger_key"),
    strangerHostKeyPublic: readFileSync(join(dir, "stranger_host_key.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" "),
    port,
    async stop() {
      sshd.kill("SIGTERM");
      await sshd.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
