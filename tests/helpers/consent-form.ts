/**
 * What a person does on the authorization server's consent page, for test
 * browsers without a rendering engine: read the page's form (its action, its
 * hidden fields, the button clicked) and submit it as a browser would.
 */

export interface PageForm {
  readonly method: string;
  readonly action: string;
  readonly fields: Record<string, string>;
  /** Button value by id (approve, deny). */
  readonly buttons: Record<string, { name: string; value: string }>;
}

const attribute = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];
const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** The first form of an HTML page, or null. */
export function pageForm(html: string): PageForm | null {
  const form = /<form\b[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return null;
  const open = /<form\b[^>]*>/.exec(form[0])![0];
  const fields: Record<string, string> = {};
  for (const [input] of form[1]!.matchAll(/<input\b[^>]*>/g)) {
    const name = attribute(input, "name");
    if (name && attribute(input, "type") === "hidden") fields[name] = unescape(attribute(input, "value") ?? "");
  }
  const buttons: PageForm["buttons"] = {};
  for (const [button] of form[1]!.matchAll(/<button\b[^>]*>/g)) {
    const id = attribute(button, "id");
    if (id) buttons[id] = { name: attribute(button, "name") ?? "", value: unescape(attribute(button, "value") ?? "") };
  }
  return { method: (attribute(open, "method") ?? "get").toUpperCase(), action: unescape(attribute(open, "action") ?? ""), fields, buttons };
}

/** The body a browser posts when `buttonId` is clicked. */
export function formBody(form: PageForm, buttonId: string): URLSearchParams {
  const button = form.buttons[buttonId];
  if (!button) throw new Error(`the page's form has no button #${buttonId} (has ${Object.keys(form.buttons).join(", ")})`);
  return new URLSearchParams({ ...form.fields, [button.name]: button.value });
}
