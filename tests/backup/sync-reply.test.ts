/** The framing of a Redis server's answer to AUTH and SYNC, fed in every possible split. */
import { describe, expect, test } from "bun:test";
import { SyncReplyReader, type SyncReplyResult } from "../../src/backup/sync-reply";

const bytes = (text: string) => new TextEncoder().encode(text);
const RDB = "REDIS0010\xfa\x09redis-ver\x067.0.15\xff12345678";

/** Feeds `parts` in order, sending SYNC after AUTH as the client does; returns the last result and what came before. */
function feed(parts: string[], authSent: boolean): SyncReplyResult[] {
  const reader = new SyncReplyReader({ authSent });
  return parts.map((part) => reader.push(bytes(part)));
}

describe("SyncReplyReader", () => {
  test("keep-alive newlines, then a length and exactly that many bytes; what follows is not part of it", () => {
    const reply = `\n\n\n$${bytes(RDB).length}\r\n${RDB}*1\r\n$4\r\nPING\r\n`;
    const results = feed([reply], false);
    expect(results.at(-1)!.kind).toBe("snapshot");
    expect((results.at(-1) as { rdb: Uint8Array }).rdb).toEqual(bytes(RDB));
  });

  test("any split of the reply gives the same snapshot", () => {
    const reply = `\n$${bytes(RDB).length}\r\n${RDB}`;
    for (let cut = 1; cut < reply.length; cut++) {
      const results = feed([reply.slice(0, cut), reply.slice(cut)], false);
      expect(results[0]!.kind).toBe("more");
      expect(results[1]).toEqual({ kind: "snapshot", rdb: bytes(RDB) });
    }
  });

  test("one byte at a time", () => {
    const reply = `\n$${bytes(RDB).length}\r\n${RDB}`;
    const results = feed([...reply], false);
    expect(results.slice(0, -1).every((r) => r.kind === "more")).toBe(true);
    expect(results.at(-1)).toEqual({ kind: "snapshot", rdb: bytes(RDB) });
  });

  test("AUTH: +OK says send SYNC; an error reply is a refusal carrying the server's words", () => {
    expect(feed(["+O", "K\r\n"], true)).toEqual([{ kind: "more" }, { kind: "authenticated" }]);
    expect(feed(["-WRONGPASS invalid username-password pair or user is disabled.\r\n"], true)).toEqual([
      { kind: "refused", message: "WRONGPASS invalid username-password pair or user is disabled." },
    ]);
  });

  test("a SYNC refusal (ACL, a managed Redis that disables it) is reported", () => {
    expect(feed(["-NOPERM this user has no permissions to run the 'sync' command\r\n"], false)).toEqual([
      { kind: "refused", message: "NOPERM this user has no permissions to run the 'sync' command" },
    ]);
  });

  test("the diskless `$EOF:` format and other replies are refused, not misread", () => {
    expect(feed([`$EOF:${"a".repeat(40)}\r\n`], false)[0]).toMatchObject({ kind: "refused", message: expect.stringContaining("unexpected reply to SYNC") });
    expect(feed(["+FULLRESYNC abc 0\r\n"], false)[0]).toMatchObject({ kind: "refused" });
    expect(feed(["HTTP/1.1 400 Bad Request\r\n"], false)[0]).toMatchObject({ kind: "refused" });
  });

  test("a line that never ends is refused instead of buffered without bound", () => {
    expect(feed(["x".repeat(70_000)], false)[0]).toMatchObject({ kind: "refused", message: "the server's reply is not the Redis protocol" });
  });

  test("an announced size beyond the limit is refused before any of it is buffered", () => {
    expect(feed(["$999999999999\r\n"], false)[0]).toMatchObject({ kind: "refused", message: expect.stringContaining("more than") });
  });
});
