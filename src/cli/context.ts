import { ApiClient } from "./api-client";
import type { CliSettings } from "./settings";

/** Where a command writes: `print` is its result (stdout); `note` is progress for people (stderr), kept out of piped output. */
export interface CommandOutput {
  print: (text: string) => void;
  note: (text: string) => void;
}

/** What a client command needs, resolved when it runs (not when the program is built). */
export type CommandContext = () => { client: ApiClient; settings: CliSettings } & CommandOutput;
