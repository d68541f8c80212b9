import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

/**
 * Set by `just build` (scripts/build.ts passes --define); absent when the
 * sources run directly, and then the commit is "unknown".
 */
declare const PORTCULLIS_BUILD_COMMIT: string | undefined;

/** The git commit the binary was built from ("-dirty" when the tree had changes), or "unknown". */
export const BUILD_COMMIT: string = typeof PORTCULLIS_BUILD_COMMIT === "string" && PORTCULLIS_BUILD_COMMIT !== "" ? PORTCULLIS_BUILD_COMMIT : "unknown";
