/** Binding errors say which setting to change, instead of a bare EADDRINUSE. */
export class ListenError extends Error {
  override name = "ListenError";
}

export function listenOrExplain<T>(setting: string, bind: () => T): T {
  try {
    return bind();
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    const message = (err as Error).message;
    if (code === "EADDRINUSE" || /in use/i.test(message)) {
      throw new ListenError(`${setting}: the port is already in use by another process; stop it or choose another ${setting}`);
    }
    if (code === "EACCES" || /permission denied|EACCES/i.test(message)) {
      throw new ListenError(
        `${setting}: permission denied binding the port; ports below 1024 need root or CAP_NET_BIND_SERVICE (or choose ${setting}=8080)`,
      );
    }
    throw new ListenError(`${setting}: cannot listen: ${message}`);
  }
}
