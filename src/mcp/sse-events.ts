/**
 * Server-sent events split from a byte stream and handed, one whole event
 * at a time, to a rewrite function; events it leaves alone go out as the
 * very bytes they came in. An event longer than the bound is not held: from
 * then on the stream passes through as it is. (HTML Living Standard,
 * "Server-sent events": UTF-8, lines end with CRLF, LF or CR, an empty line
 * ends an event.)
 */

/** The event's text without its final empty line → a replacement (with its own ending), or null to keep the event as it came. */
export type EventRewrite = (event: string) => string | null;

const LF = 0x0a;
const CR = 0x0d;

export function rewriteEventStream(body: ReadableStream<Uint8Array>, rewrite: EventRewrite, maxEventBytes: number): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = new Uint8Array(4096);
  let length = 0;
  /** Where the next unread line of `pending` starts; the lines before it belong to the event being collected. */
  let lineStart = 0;
  /** How far the current line has been searched for its end: a long line is not searched again from its start. */
  let searched = 0;
  let passThrough = false;

  const append = (chunk: Uint8Array) => {
    if (length + chunk.length > pending.length) {
      const grown = new Uint8Array(Math.max(pending.length * 2, length + chunk.length));
      grown.set(pending.subarray(0, length));
      pending = grown;
    }
    pending.set(chunk, length);
    length += chunk.length;
  };

  const drain = (controller: TransformStreamDefaultController<Uint8Array>, final: boolean) => {
    let eventStart = 0;
    for (;;) {
      const end = lineEnd(pending, Math.max(lineStart, searched), length, final);
      if (end === null) {
        // A CR at the end of what has arrived may be the first half of a CRLF: search it again.
        searched = length > 0 && pending[length - 1] === CR ? length - 1 : length;
        break;
      }
      if (end[0] === lineStart) {
        // An empty line: the event from eventStart up to here is complete.
        const replaced = lineStart === eventStart ? null : rewrite(decoder.decode(pending.subarray(eventStart, lineStart)));
        controller.enqueue(replaced === null ? pending.slice(eventStart, end[1]) : encoder.encode(replaced));
        eventStart = end[1];
      }
      lineStart = searched = end[1];
    }
    // What is left at the end is no complete event, and an event past the bound is not held: both go out as they came.
    if ((final && eventStart < length) || length - eventStart > maxEventBytes) {
      controller.enqueue(pending.slice(eventStart, length));
      passThrough = true;
      length = lineStart = searched = 0;
      return;
    }
    pending.copyWithin(0, eventStart, length);
    length -= eventStart;
    lineStart -= eventStart;
    searched -= eventStart;
  };

  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (passThrough) return controller.enqueue(chunk);
        append(chunk);
        drain(controller, false);
      },
      flush(controller) {
        if (!passThrough) drain(controller, true);
      },
    }),
  );
}

/** The line starting at `from`: [index of its terminator, index after it], or null until more bytes arrive. */
function lineEnd(bytes: Uint8Array, from: number, length: number, final: boolean): [number, number] | null {
  for (let i = from; i < length; i++) {
    const c = bytes[i];
    if (c === LF) return [i, i + 1];
    if (c === CR) {
      // A CR at the end of what has arrived may be the first half of a CRLF.
      if (i + 1 === length) return final ? [i, i + 1] : null;
      return [i, bytes[i + 1] === LF ? i + 2 : i + 1];
    }
  }
  return null;
}

/** The data of an event (its `data` lines joined by LF), or null when it has none. */
export function eventData(event: string): string | null {
  let data: string | null = null;
  for (const line of event.split(/\r\n|\r|\n/)) {
    if (line !== "data" && !line.startsWith("data:")) continue;
    const value = line.length > 5 && line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5);
    data = data === null ? value : `${data}\n${value}`;
  }
  return data;
}

/** The event with its data replaced by `data` (one line: serialized JSON has no raw line breaks), other fields kept in order. */
export function withEventData(event: string, data: string): string {
  const lines: string[] = [];
  let placed = false;
  for (const line of event.split(/\r\n|\r|\n/)) {
    if (line === "") continue;
    if (line === "data" || line.startsWith("data:")) {
      if (!placed) lines.push(`data: ${data}`);
      placed = true;
    } else {
      lines.push(line);
    }
  }
  return `${lines.join("\n")}\n\n`;
}
