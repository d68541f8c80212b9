/**
 * CPU time of processes on this machine, from /proc: what a proxy spends per
 * request hardly moves when other work on the shared cores slows a run, unlike
 * its requests per second.
 */

const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process, all threads, in µs. */
async function cpuMicros(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** Minor page faults of a process so far, all threads (/proc/PID/stat minflt). */
export async function minorFaults(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
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
