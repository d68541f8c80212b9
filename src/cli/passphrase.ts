/**
 * The passphrase of `export --include-secrets` and of `apply` of a file with
 * encrypted secrets. Never a flag's value (shell history and `ps` would show
 * it): a file (--passphrase-file), the PORTCULLIS_EXPORT_PASSPHRASE variable,
 * or asked on the terminal without echo when stdin is one.
 */
import { CliError } from "./cli-error";

export const PASSPHRASE_ENV = "PORTCULLIS_EXPORT_PASSPHRASE";
/** Below this, scrypt only slows down a guesser that would still win. */
export const MIN_PASSPHRASE = 8;

export interface PassphraseSource {
  readonly file?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Asks on the terminal; absent when stdin is not one. */
  readonly ask?: (prompt: string) => Promise<string>;
}

/** `confirm`: ask twice on the terminal (export, where a typo would make the file unreadable). */
export async function readPassphrase(source: PassphraseSource, purpose: { confirm: boolean }): Promise<string> {
  let passphrase: string;
  if (source.file) {
    const file = Bun.file(source.file);
    if (!(await file.exists())) throw new CliError(`--passphrase-file ${source.file}: no such file`, 2);
    // One trailing newline is what `echo … > file` adds, not part of the passphrase.
    passphrase = (await file.text()).replace(/\r?\n$/, "");
  } else if (source.env[PASSPHRASE_ENV]) {
    // Set but empty counts as unset, as `VAR= command` means to most tools.
    passphrase = source.env[PASSPHRASE_ENV]!;
  } else if (source.ask) {
    passphrase = await source.ask("Passphrase: ");
    if (purpose.confirm && (await source.ask("Passphrase again: ")) !== passphrase) throw new CliError("the passphrases differ", 2);
  } else {
    throw new CliError(`a passphrase is needed for the secrets: give --passphrase-file FILE or set ${PASSPHRASE_ENV} (stdin is not a terminal to ask on)`, 2);
  }
  if (passphrase.length < MIN_PASSPHRASE) throw new CliError(`the passphrase is too short: at least ${MIN_PASSPHRASE} characters`, 2);
  return passphrase;
}

/** Reads one line from the terminal with echo off (Ctrl-C or Ctrl-D cancels); undefined when stdin is not a terminal. */
export function terminalAsker(): ((prompt: string) => Promise<string>) | undefined {
  if (!process.stdin.isTTY) return undefined;
  return (prompt) =>
    new Promise((resolve, reject) => {
      const stdin = process.stdin;
      let typed = "";
      const done = (error?: Error) => {
        stdin.setRawMode(false);
        stdin.pause();
        stdin.off("data", onData);
        process.stderr.write("\n");
        if (error) reject(error);
        else resolve(typed);
      };
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString("utf8")) {
          if (char === "\r" || char === "\n") return done();
          if (char === "\u0003" || char === "\u0004") return done(new CliError("cancelled", 130));
          if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
          else if (char >= " ") typed += char;
        }
      };
      // Echo goes off before the prompt shows: an answer typed or pasted at once is never echoed.
      stdin.setRawMode(true);
      process.stderr.write(prompt);
      stdin.resume();
      stdin.on("data", onData);
    });
}
