/** What a reader needs to judge the numbers: the machine, the tool versions, the source revision. */
import { spawnChild } from "./processes";

export interface MachineInfo {
  readonly nproc: string;
  readonly cpuModel: string;
  readonly bun: string;
  readonly nginx: string;
  readonly wrk: string;
  readonly revision: string;
  /** 1-minute load average when the run started: a high one means the cores were busy just before (tests, another run). */
  readonly loadAverage: string;
}

/** First line of a command's stdout+stderr, or "unknown" (nginx -v and wrk -v print to stderr). */
async function firstLine(cmd: string[], cwd?: string): Promise<string> {
  try {
    const child = spawnChild(cmd, { stdout: "pipe", stderr: "pipe", cwd });
    const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return (out + err).trim().split("\n")[0]?.trim() || "unknown";
  } catch {
    return "unknown";
  }
}

export async function cpuModel(): Promise<string> {
  const cpuinfo = await Bun.file("/proc/cpuinfo").text().catch(() => "");
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
}

export async function machineInfo(root: string): Promise<MachineInfo> {
  const [nproc, model, nginx, wrk, revision] = await Promise.all([
    firstLine(["nproc"]),
    cpuModel(),
    firstLine(["nginx", "-v"]),
    firstLine(["wrk", "-v"]),
    firstLine(["git", "describe", "--always", "--dirty"], root),
  ]);
  return {
    nproc,
    cpuModel: model,
    bun: Bun.version,
    nginx: nginx.replace(/^nginx version:\s*nginx\//, ""),
    wrk: wrk.replace(/ \[.*$/, ""),
    revision,
    loadAverage: (await Bun.file("/proc/loadavg").text().catch(() => "unknown")).split(" ")[0]!,
  };
}
