/**
 * Server-Sent Events from a fetch body, as the HTML standard parses them:
 * lines `field: value`, events ended by a blank line, comments (`:`) skipped;
 * and following an API endpoint that streams them.
 */
import { ApiError } from "./api-client";
import { CliError } from "./cli-error";
import type { CliSettings } from "./settings";

export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "message";
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      // A CR that ends the chunk may be half of a CRLF split across chunks: wait for the next one.
      if (newline === buffer.length - 1 && buffer.endsWith("\r")) break;
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n"), ...(id !== undefined ? { id } : {}) };
        event = "message";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
  }
}

/**
 * GETs an SSE endpoint of the API and hands the JSON data of each `eventName`
 * event to `onData` until it answers false ("stopped") or the gateway ends the
 * stream ("ended"). Errors before the stream name the API's answer.
 */
export async function followApiEvents(settings: CliSettings, path: string, eventName: string, onData: (data: unknown) => boolean): Promise<"stopped" | "ended"> {
  const abort = new AbortController();
  let response: Response;
  try {
    response = await fetch(settings.baseUrl + path, {
      headers: { accept: "text/event-stream", ...(settings.token ? { authorization: `Bearer ${settings.token}` } : {}) },
      signal: abort.signal,
    });
  } catch (err) {
    throw new CliError(`cannot reach the API at ${settings.baseUrl} (${(err as Error).message}); is the gateway running? (just up)`);
  }
  if (!response.ok || !response.body) {
    const payload = (await response.json().catch(() => ({}))) as { error?: string; detail?: string };
    throw new ApiError(`GET ${path}: ${response.status} ${payload.error ?? ""}${payload.detail ? `: ${payload.detail}` : ""}`.trim(), response.status, payload.error);
  }
  try {
    for await (const event of readSse(response.body)) {
      if (event.event !== eventName) continue;
      if (!onData(JSON.parse(event.data))) return "stopped";
    }
  } finally {
    abort.abort();
  }
  return "ended";
}
