/** True once `check` holds, polled every 20 ms for up to `ms`; its last answer otherwise. For "every node knows within 1 s". */
export async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await Bun.sleep(20);
  }
  return check();
}
