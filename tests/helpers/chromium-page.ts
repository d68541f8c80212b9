/**
 * A page in headless Debian Chromium driven through playwright-core, for
 * tests where a person clicks (the consent page's Approve). Hostnames map to
 * loopback ports with Chromium's resolver rules, as DNS would point them at
 * the gateway.
 */
import { chromium, type Page } from "playwright-core";
import { CHROMIUM } from "./chromium";

export async function withChromiumPage<T>(hostRules: string[], use: (page: Page) => Promise<T>): Promise<T> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", ...hostRules.map((rule) => `--host-resolver-rules=${rule}`)],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    return await use(page);
  } finally {
    await browser.close();
  }
}
