/** The engine's build output parser: success, the error object a failed build ends with (under HTTP 200), split chunks, garbage. */
import { describe, expect, test } from "bun:test";
import { BuildProgress, KEPT_OUTPUT_LINES } from "../../src/services/build-progress";

const parse = (...chunks: string[]) => {
  const progress = new BuildProgress();
  for (const chunk of chunks) progress.push(chunk);
  return progress.result();
};

// What podman 4 sends for a build that works and one whose RUN exits 1 (recorded from the engine).
const SUCCESS = [
  '{"stream":"STEP 1/2: FROM localhost/portcullis-test:1\\n"}\n',
  '{"stream":"STEP 2/2: COPY hello.txt /www2/hello.txt\\n"}\n',
  '{"stream":"--\\u003e 016e739b075\\n"}\n',
  '{"stream":"Successfully tagged docker.io/portcullis/x:ok\\n"}\n',
  '{"aux":{"ID":"sha256:6be0d409f029b58b4dfbf24035be80d71281f8ce0686569b16c9c85dd4357fd7"}}\n',
  '{"stream":"Successfully built 6be0d409f029\\n"}\n',
].join("");
const RUN_FAILS = [
  '{"stream":"STEP 1/3: FROM localhost/portcullis-test:1\\n"}\n',
  '{"stream":"STEP 2/3: RUN exit 1\\n"}\n',
  '{"errorDetail":{"message":"building at STEP \\"RUN exit 1\\": while running runtime: exit status 1\\n"},"error":"building at STEP \\"RUN exit 1\\": while running runtime: exit status 1\\n"}\n',
].join("");

describe("build output", () => {
  test("a finished build: the image id, the output lines", () => {
    const result = parse(SUCCESS);
    expect(result.error).toBeNull();
    expect(result.imageId).toBe("sha256:6be0d409f029b58b4dfbf24035be80d71281f8ce0686569b16c9c85dd4357fd7");
    expect(result.lastLines).toEqual([
      "STEP 1/2: FROM localhost/portcullis-test:1",
      "STEP 2/2: COPY hello.txt /www2/hello.txt",
      "--> 016e739b075",
      "Successfully tagged docker.io/portcullis/x:ok",
      "Successfully built 6be0d409f029",
    ]);
  });

  test("a failed build is its error object, whatever came before; the error is the last line", () => {
    const result = parse(RUN_FAILS);
    expect(result.imageId).toBeNull();
    expect(result.error).toBe('building at STEP "RUN exit 1": while running runtime: exit status 1');
    expect(result.lastLines.at(-1)).toBe('ERROR: building at STEP "RUN exit 1": while running runtime: exit status 1');
    expect(result.lastLines[1]).toBe("STEP 2/3: RUN exit 1");
    // An id reported before the error does not make the build a success.
    expect(parse('{"aux":{"ID":"sha256:abc"}}', '{"error":"later failure"}')).toMatchObject({ imageId: null, error: "later failure" });
    // Only errorDetail: still an error.
    expect(parse('{"errorDetail":{"message":"no space left"}}').error).toBe("no space left");
  });

  test("chunks split anywhere (inside strings, escapes, between objects) give the same result", () => {
    const whole = parse(SUCCESS);
    for (let size = 1; size < 40; size += 3) {
      const chunks: string[] = [];
      for (let i = 0; i < SUCCESS.length; i += size) chunks.push(SUCCESS.slice(i, i + size));
      expect(parse(...chunks)).toEqual(whole);
    }
    const failed = parse(RUN_FAILS);
    expect(parse(...RUN_FAILS.split(""))).toEqual(failed);
  });

  test("objects without line breaks between them, Docker's \\r\\n, braces inside strings", () => {
    const result = parse('{"stream":"a {not} \\"an object\\" }\\n"}{"stream":"b\\r\\n"}\r\n{"aux":{"ID":"sha256:1"}}');
    expect(result).toEqual({ imageId: "sha256:1", error: null, lastLines: ['a {not} "an object" }', "b"] });
  });

  test("a line split over two stream messages is one line; a last line without a break is kept", () => {
    expect(parse('{"stream":"hel"}{"stream":"lo\\nwor"}{"stream":"ld"}{"aux":{"ID":"x"}}').lastLines).toEqual(["hello", "world"]);
  });

  test("only the last lines are kept, each bounded", () => {
    const many = Array.from({ length: 50 }, (_, i) => JSON.stringify({ stream: `line ${i}\n` })).join("");
    const result = parse(many, JSON.stringify({ stream: `${"x".repeat(5000)}\n` }), '{"error":"boom"}');
    expect(result.lastLines.length).toBe(KEPT_OUTPUT_LINES);
    expect(result.lastLines.at(-1)).toBe("ERROR: boom");
    expect(result.lastLines.at(-2)!.length).toBeLessThanOrEqual(1001);
    expect(result.lastLines[0]).toBe(`line ${50 - KEPT_OUTPUT_LINES + 2}`);
  });

  test("an output with no image, cut off mid-message, or not JSON is a failure", () => {
    expect(parse('{"stream":"STEP 1/1: FROM x\\n"}').imageId).toBeNull();
    expect(parse('{"stream":"STEP 1/1: FROM x\\n"}').error).toBeNull(); // the builder adds "the engine reported no image"
    expect(parse('{"stream":"STEP 1/1', "").error).toContain("ended in the middle");
    expect(parse("<html>502 Bad Gateway</html>").error).toContain("not the JSON");
    expect(parse('{"stream": nope}').error).toContain("not the JSON");
    expect(parse('{"aux":{"ID":"sha256:1"}}', "garbage").imageId).toBe("sha256:1");
  });

  test("pull status messages are output lines", () => {
    expect(parse('{"status":"Pulling fs layer","progress":"[=>  ]","id":"a"}{"aux":{"ID":"i"}}').lastLines).toEqual(["Pulling fs layer [=>  ]"]);
  });
});
