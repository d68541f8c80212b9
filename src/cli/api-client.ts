/** The CLI's HTTP client: JSON in and out, API errors turned into one readable line. */
import { CliError } from "./cli-error";
import type { CliSettings } from "./settings";

/** An API answer outside 2xx: the status and error code stay available for hints. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export class ApiClient {
  constructor(private readonly settings: CliSettings) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.settings.token) headers.authorization = `Bearer ${this.settings.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const url = this.settings.baseUrl + path;
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new CliError(`cannot reach the API at ${this.settings.baseUrl} (${(err as Error).message}); is the gateway running? (just up)`);
    }
    const text = await response.text();
    let payload: unknown = text;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: keep the text for the error message.
    }
    if (!response.ok) {
      const { error, detail } = (payload ?? {}) as { error?: string; detail?: string };
      const hint = response.status === 401 && !this.settings.token ? " (pass --token or set TOKEN)" : "";
      throw new ApiError(`${method} ${path}: ${response.status} ${error ?? ""}${detail ? `: ${detail}` : ""}${hint}`.trim(), response.status, error);
    }
    return payload as T;
  }
}
