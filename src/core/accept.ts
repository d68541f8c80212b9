/**
 * Content negotiation for the gateway's own answers: JSON for API clients,
 * an HTML page for people in a browser.
 */

/**
 * JSON unless the Accept header ranks HTML strictly higher than JSON (browsers
 * do; API clients, curl and an absent header do not). Specificity decides which
 * range's q applies: `text/html` beats `text/*` beats `*\/*`.
 */
export function prefersJson(accept: string | null): boolean {
  if (!accept) return true;
  return quality(accept, "application", "json") >= quality(accept, "text", "html");
}

function quality(accept: string, type: string, subtype: string): number {
  let best = -1;
  let q = 0;
  for (const range of accept.split(",")) {
    const [media = "", ...params] = range.split(";");
    const [t = "", s = ""] = media.trim().toLowerCase().split("/");
    const specificity = t === type && s === subtype ? 2 : t === type && s === "*" ? 1 : t === "*" && s === "*" ? 0 : -1;
    if (specificity <= best) continue;
    best = specificity;
    q = 1;
    for (const param of params) {
      const [key, value] = param.split("=");
      if (key?.trim().toLowerCase() === "q") q = Number(value) || 0;
    }
  }
  return q;
}
