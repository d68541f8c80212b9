/**
 * `portcullis cert root`: the local CA's root certificate, for clients to
 * trust. The table format prints the PEM alone, so `> portcullis-root.pem`
 * gives a file to install; json/yaml/csv print the API's object.
 */
import type { Command } from "commander";
import type { CommandContext } from "../context";
import { renderItem } from "../output";

/** GET /api/v1/certificates/root */
export interface LocalCaRootView {
  pem: string;
  subject: string;
  fingerprint_sha256: string;
  not_before: string;
  not_after: string;
}

export function registerCertRootCommand(cert: Command, context: CommandContext): void {
  cert
    .command("root")
    .description("Print the local CA's root certificate (PEM), which signs certificates for internal names; trust it on your clients")
    .action(async () => {
      const { client, settings, print, note } = context();
      const root = await client.get<LocalCaRootView>("/api/v1/certificates/root");
      if (settings.format !== "table") {
        print(renderItem({ ...root }, settings.format));
        return;
      }
      print(root.pem.trimEnd());
      note(`${root.subject}, SHA-256 ${root.fingerprint_sha256}, valid until ${root.not_after}`);
    });
}
