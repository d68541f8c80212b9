/**
 * API bodies are small JSON documents. The API refuses large or unsized bodies
 * before anything reads them, so nobody (authenticated or not) can make the
 * gateway buffer megabytes.
 */
export const API_MAX_BODY_BYTES = 1024 * 1024;

const json = (status: number, error: string, detail: string) => Response.json({ error, detail }, { status });

/** A refusal for a request whose body the API should not read, or undefined. */
export function refuseApiBody(request: Request): Response | undefined {
  const length = request.headers.get("content-length");
  if (length !== null) {
    return Number(length) > API_MAX_BODY_BYTES
      ? json(413, "payload_too_large", `request bodies for the API are limited to ${API_MAX_BODY_BYTES} bytes`)
      : undefined;
  }
  if (request.headers.has("transfer-encoding")) {
    return json(411, "length_required", "send API request bodies with a Content-Length");
  }
  return undefined;
}
