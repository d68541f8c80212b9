/**
 * CPU time of processes on this machine, from /proc: what a proxy spends per
 * request hardly moves when other work on the shared cores slows a run, unlike
 * its requests per second.
 */

const CLOCK_TICKS_PER_SECOND = 100;

/** The fields of /proc/PID/stat after the command name (which is in parentheses and may contain spaces): state is [0]. */
async function statFields(pid: number): Promise<string[]> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** utime + stime of a process, all threads, in µs. */
async function cpuMicros(pid: number): Promise<number> {
  const fields = await statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** Minor page faults of a process so far, all threads (minflt). */
export async function minorFaults(pid: number): Promise<number> {
  return Number((await statFields(pid))[7]);
}

/** Resident memory of a process now and at its peak, in MiB (VmRSS and VmHWM of /proc/PID/status). */
export async function residentMemory(pid: number): Promise<{ readonly now: number; readonly peak: number }> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const mib = (field: string) => Math.round(Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) / 1024);
  return { now: mib("VmRSS"), peak: mib("VmHWM") };
}

/** The pids of the processes holding a loopback TCP port's listening socket (ss -ltnp); nginx's master and worker both do. */
export async function pidsListeningOn(port: number): Promise<number[]> {
  const child = Bun.spawn(["ss", "-ltnpH", `sport = :${port}`], { stdout: "pipe", stderr: "ignore" });
  const text = await new Response(child.stdout).text();
  const pids = [...new Set([...text.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
  if (pids.length === 0) throw new Error(`no process found listening on port ${port}: ${text}`);
  return pids;
}

/** CPU µs of all `pids` together. */
export async function totalCpuMicros(pids: readonly number[]): Promise<number> {
  const each = await Promise.all(pids.map(cpuMicros));
  return each.reduce((a, b) => a + b, 0);
}
