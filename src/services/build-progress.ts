/**
 * Reads the engine's build output: a stream of JSON objects ({"stream": text},
 * {"status": …}, {"aux": {"ID": …}}, {"error": …, "errorDetail": {…}}). The
 * build endpoint answers 200 before it starts, so a failed build shows only
 * here, as an `error` object. Pure: text in, state out.
 *
 * Objects come one a line from Docker and podman, but nothing promises the
 * line break, and a chunk may end mid-object: objects are split by brace
 * depth outside strings, not by lines.
 */

/** How many of the last output lines a failure reports. */
export const KEPT_OUTPUT_LINES = 20;
/** Longest kept output line (a RUN may print a line of megabytes). */
const MAX_LINE = 1_000;
/** An unfinished object longer than this is not the engine's output. */
const MAX_PENDING = 1024 * 1024;

export interface BuildResult {
  /** The built image's id (aux.ID), when the engine reported one. */
  readonly imageId: string | null;
  /** The engine's error message, when the build failed. */
  readonly error: string | null;
  /** The last output lines (stream and status text, the error last). */
  readonly lastLines: readonly string[];
}

export class BuildProgress {
  private pending = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private partialLine = "";
  private readonly lines: string[] = [];
  private imageId: string | null = null;
  private error: string | null = null;
  private garbled = false;

  push(text: string): void {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (this.depth === 0) {
        // Between objects: whitespace, or the start of the next one.
        if (ch === "{") {
          this.depth = 1;
          start = i;
          this.pending = "";
        } else if (!/\s/.test(ch)) {
          this.garbled = true;
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === "\\") this.escaped = true;
        else if (ch === '"') this.inString = false;
        continue;
      }
      if (ch === '"') this.inString = true;
      else if (ch === "{") this.depth++;
      else if (ch === "}" && --this.depth === 0) {
        this.object(this.pending + text.slice(start, i + 1));
        this.pending = "";
      }
    }
    if (this.depth > 0) {
      this.pending += text.slice(start);
      if (this.pending.length > MAX_PENDING) {
        this.garbled = true;
        this.pending = "";
        this.depth = 0;
        this.inString = false;
      }
    }
  }

  /** The outcome once the stream has ended. */
  result(): BuildResult {
    if (this.partialLine) this.keep(this.partialLine);
    this.partialLine = "";
    let error = this.error;
    if (error === null && this.depth > 0) error = "the engine's build output ended in the middle of a message";
    if (error === null && this.imageId === null && this.garbled) error = "the engine's build output was not the JSON messages expected";
    return { imageId: error === null ? this.imageId : null, error, lastLines: [...this.lines] };
  }

  private object(raw: string): void {
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
      message = parsed as Record<string, unknown>;
    } catch {
      this.garbled = true;
      return;
    }
    if (typeof message.stream === "string") this.text(message.stream);
    if (typeof message.status === "string") this.text(`${message.status}${typeof message.progress === "string" ? ` ${message.progress}` : ""}\n`);
    const aux = message.aux as { ID?: unknown } | undefined;
    if (aux && typeof aux === "object" && typeof aux.ID === "string") this.imageId = aux.ID;
    const detail = (message.errorDetail as { message?: unknown } | undefined)?.message;
    const error = typeof message.error === "string" ? message.error : typeof detail === "string" ? detail : null;
    if (error !== null) {
      // The first error is the cause; later ones are consequences.
      this.error ??= error.trim() || "the engine reported an error without a message";
      if (this.partialLine) this.keep(this.partialLine);
      this.partialLine = "";
      this.keep(`ERROR: ${error.trim()}`);
    }
  }

  private text(text: string): void {
    const parts = (this.partialLine + text).split("\n");
    this.partialLine = parts.pop()!.slice(0, MAX_LINE * 4);
    for (const part of parts) this.keep(part);
  }

  private keep(line: string): void {
    const clean = line.replace(/\r$/, "").trimEnd();
    if (!clean) return;
    this.lines.push(clean.length > MAX_LINE ? `${clean.slice(0, MAX_LINE)}…` : clean);
    if (this.lines.length > KEPT_OUTPUT_LINES) this.lines.shift();
  }
}
