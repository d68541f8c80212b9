/**
 * Headers on every answer the gateway writes itself — error pages, redirects,
 * the API, the OAuth server — and never on a backend's: a browser must not
 * guess another content type than the one we send.
 */
export const OWN_RESPONSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({ "x-content-type-options": "nosniff" });

/** Adds OWN_RESPONSE_HEADERS to a response built elsewhere (Elysia's). */
export function markOwn(response: Response): Response {
  for (const name in OWN_RESPONSE_HEADERS) response.headers.set(name, OWN_RESPONSE_HEADERS[name]!);
  return response;
}
