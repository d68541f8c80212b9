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

/**
 * At most this many addresses in the signed leaf (as MAX_DOMAINS per certificate request). Every
 * node signs it again on each change, and signing grows with the list (measured: ≈0.1 s for 100,
 * ≈0.7 s for 1000): without a cap one token creating address proxies would cost every node CPU
 * per proxy, quadratically in total.
 */
export const MAX_ADDRESSES = 100;

type AddressProxy = { readonly hostname: string; readonly enable_https: boolean; readonly created_at?: string };

/**
 * The IP addresses among HTTPS proxies' hostnames, in canonical form, sorted, once each: the
 * oldest MAX_ADDRESSES proxies' when there are more, so proxies created later never push out
 * an address clients already verify. `dropped` counts those left out.
 */
export function proxyAddresses(proxies: readonly AddressProxy[]): { addresses: string[]; dropped: number } {
  const byAge = proxies
    .filter((p) => p.enable_https && isIpAddress(p.hostname))
    .map((p) => ({ address: canonicalAddress(p.hostname), created: p.created_at ?? "" }))
    .sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.address < b.address ? -1 : 1));
  const unique = [...new Set(byAge.map((p) => p.address))];
  return { addresses: unique.slice(0, MAX_ADDRESSES).sort(), dropped: Math.max(0, unique.length - MAX_ADDRESSES) };
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
