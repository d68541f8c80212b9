import { ApiClient } from "./api-client";
import type { CliSettings } from "./settings";

/** Where a command writes: `print` is its result (stdout); `note` is progress for people (stderr), kept out of piped output. */
export interface CommandOutput {
  print: (text: string) => void;
  note: (text: string) => void;
  /** stdout is a terminal that shows colour (not piped, NO_COLOR unset). */
  colour?: boolean;
  /** Asks a yes/no question; absent when nobody can answer (stdin is not a terminal). */
  confirm?: (question: string) => Promise<boolean>;
  /** How a passphrase is asked for: unset, on the real terminal when stdin is one; null, never (in-process runs). */
  ask?: ((prompt: string) => Promise<string>) | null;
}

/** What a client command needs, resolved when it runs (not when the program is built). */
export type CommandContext = () => { client: ApiClient; settings: CliSettings } & CommandOutput;
