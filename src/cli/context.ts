import { ApiClient } from "./api-client";
import type { CliSettings } from "./settings";

/** What a client command needs, resolved when it runs (not when the program is built). */
export type CommandContext = () => { client: ApiClient; settings: CliSettings; print: (text: string) => void };
