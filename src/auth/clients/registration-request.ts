/**
 * Reading RFC 7591/7592 request bodies: JSON, bounded, never a 500 on bad input.
 */
import { readBounded } from "../../core/bounded-body";
import { parseBoundedJson } from "../../core/bounded-json";
import { OAuthError } from "../oauth-error";

export const MAX_REGISTRATION_BODY_BYTES = 64 * 1024;

/** The parsed JSON body; throws invalid_client_metadata (400) or, for an oversized body, invalid_request (413). */
export async function readJsonBody(request: Request, maxBytes = MAX_REGISTRATION_BODY_BYTES): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new OAuthError("invalid_client_metadata", "send the client metadata as application/json");
  }
  const tooLarge = new OAuthError("invalid_request", `the request body is larger than ${maxBytes} bytes`, 413);
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge;
  if (!request.body) throw new OAuthError("invalid_client_metadata", "the request has no body");

  const bytes = await readBounded(request.body, maxBytes);
  if (bytes === null) throw tooLarge;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new OAuthError("invalid_client_metadata", "the request body is not valid UTF-8");
  }
  const parsed = parseBoundedJson(text);
  if (!parsed.ok) throw new OAuthError("invalid_client_metadata", `the request body is ${parsed.reason}`);
  return parsed.value;
}
