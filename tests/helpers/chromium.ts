/** Headless Debian Chromium, for tests of pages a person would open. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const CHROMIUM = Bun.which("chromium") ?? "/usr/bin/chromium";

/** Loads `url` in a real browser and returns the DOM after scripts ran. */
export async function renderedDom(url: string, extraFlags: string[] = []): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "portcullis-chromium-"));
  try {
    const child = Bun.spawn([CHROMIUM, ...FLAGS, `--user-data-dir=${profile}`, ...extraFlags, "--dump-dom", url], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const [code, dom, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
    clearTimeout(timer);
    if (code !== 0) throw new Error(`chromium exited ${code}: ${stderr.slice(-2000)}`);
    return dom;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
