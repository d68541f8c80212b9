/**
 * The certificate for clients that send no SNI. A client connecting to an IP
 * address sends no server name (RFC 6066 §3: "Literal IPv4 and IPv6 addresses
 * are not permitted in HostName"), so Bun.serve answers with its default
 * context, whatever certificate the proxy for that address has. This picks
 * the default for the IP addresses HTTPS proxies serve: the one certificate
 * that already serves all of them, else a local-CA leaf naming every one of
 * them (signed on this node, kept in memory, signed again when a third of its
 * life is left or the addresses change). No addresses: null, and the
 * self-signed fallback stays the default.
 *
 * Only proxies decide which addresses are named, never certificate requests:
 * a token holder can put an address here only by creating the proxy for it,
 * which no one else can hold.
 */
import { isIP } from "node:net";
import { isIpAddress } from "./internal-names";
import type { SelfSignedCertificate } from "./self-signed";

export interface AddressServed {
  readonly cert_name: string;
  readonly cert: string;
  readonly key: string;
}

/** The name the signed leaf goes by in metrics and /health. */
export const ADDRESS_CERTIFICATE_NAME = "local-ca-addresses";

/** The IP addresses among proxy hostnames, in canonical form, sorted and without repeats. */
export function proxyAddresses(proxies: readonly { readonly hostname: string; readonly enable_https: boolean }[]): string[] {
  const addresses = proxies.filter((p) => p.enable_https && isIpAddress(p.hostname)).map((p) => canonicalAddress(p.hostname));
  return [...new Set(addresses)].sort();
}

/** `[::1]`, `0:0::1` → `::1`; IPv4 as given (isIP accepts only plain dotted quads). */
function canonicalAddress(hostname: string): string {
  const bare = hostname.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return isIP(bare) === 6 ? new URL(`http://[${bare}]/`).hostname.slice(1, -1) : bare;
}

export class AddressCertificate {
  private signed: { addresses: string; leaf: SelfSignedCertificate; renewAtMs: number } | undefined;

  constructor(
    /** Signs a leaf for these names with the local CA (LOCAL_CA_CERT_DAYS). */
    private readonly sign: (addresses: readonly string[]) => Promise<SelfSignedCertificate>,
  ) {}

  /**
   * The default certificate for `addresses`, given what serves each name now;
   * null when there are none. `expiresAtMs` is set for a leaf signed here.
   */
  async pick(
    addresses: readonly string[],
    byServerName: ReadonlyMap<string, AddressServed>,
    now = Date.now(),
  ): Promise<{ served: AddressServed; expiresAtMs?: number; renewAtMs?: number } | null> {
    if (addresses.length === 0) {
      this.signed = undefined;
      return null;
    }
    // One certificate serving every address (a single IP proxy with its own certificate): the same chain with or without SNI.
    const existing = addresses.map((a) => byServerName.get(a));
    const first = existing[0];
    if (first && existing.every((served) => served?.cert_name === first.cert_name)) {
      this.signed = undefined;
      return { served: first };
    }
    const key = addresses.join(",");
    if (!this.signed || this.signed.addresses !== key || now >= this.signed.renewAtMs) {
      const leaf = await this.sign(addresses);
      const expiresAtMs = Date.parse(leaf.expires_at);
      // As renewal.ts does for local-CA leaves: a new one with a third of the life left.
      this.signed = { addresses: key, leaf, renewAtMs: now + ((expiresAtMs - now) * 2) / 3 };
    }
    const { leaf, renewAtMs } = this.signed;
    return {
      served: { cert_name: ADDRESS_CERTIFICATE_NAME, cert: leaf.fullchain_pem, key: leaf.private_key_pem },
      expiresAtMs: Date.parse(leaf.expires_at),
      renewAtMs,
    };
  }
}
