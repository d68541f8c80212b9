/**
 * The API's views of each kind, as entries of the configuration file: only
 * the fields a request may set (no owner, timestamps, status or secrets), and
 * for export only those that differ from what the API would choose itself.
 */
import { proxyCertificateName } from "../../certificates/proxy-certificates";
import { defaultPreserveHost, PROXY_DEFAULTS, ProxyCreateBody } from "../../api/schemas/proxy-target";
import { ROUTE_DEFAULTS } from "../../api/schemas/route";
import { CLIENT_METADATA_FIELDS } from "../../auth/clients/client-record";
import { KEY_FIELD, type Kind } from "./config-document";
import type { Entry, GatewayState } from "./plan";

/** Not part of an entry: the proxy's certificate is planned by the proxy (reused if one covers it, else requested). */
const PROXY_FIELDS = Object.keys(ProxyCreateBody.properties).filter((f) => !["cert_name", "staging", "cert_email"].includes(f));
const ROUTE_FIELDS = ["route_id", "path_pattern", "target_type", "target_value", ...Object.keys(ROUTE_DEFAULTS)];
const SERVICE_FIELDS = ["service_name", "target_url", "description", "routing_enabled"];
const DOCKER_FIELDS = ["service_name", "image", "dockerfile_path", "internal_port", "memory_limit", "cpu_limit", "environment", "command", "labels", "bind_address", "networks", "port_configs"];
const RESOURCE_FIELDS = ["uri", "name", "proxy_target", "scopes", "metadata_url", "description"];
const CLIENT_FIELDS = ["client_id", ...CLIENT_METADATA_FIELDS];
/** What /register fills in for a field a client leaves out (scope is the gateway's own default, so always written). */
const CLIENT_DEFAULTS: Entry = {
  client_name: null,
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_basic",
  client_uri: null,
  logo_uri: null,
  contacts: [],
  software_id: null,
  software_version: null,
};
/** The certificate every node serves to names without one of their own. */
const FALLBACK_CERTIFICATE = "self-signed";

const pick = (view: Entry, fields: readonly string[]): Entry => Object.fromEntries(fields.filter((f) => view[f] !== undefined).map((f) => [f, view[f]]));

/** A view as an entry with every settable field: what apply compares the file against. */
export function entryOf(kind: Kind, view: Entry): Entry {
  switch (kind) {
    case "proxies":
      return pick(view, PROXY_FIELDS);
    case "routes":
      return pick(view, ROUTE_FIELDS);
    case "external_services":
      return pick(view, SERVICE_FIELDS);
    case "resources":
      return pick(view, RESOURCE_FIELDS);
    case "oauth_clients":
      return pick(view, CLIENT_FIELDS);
    case "docker_services": {
      const entry = pick(view, DOCKER_FIELDS);
      // A built service is re-created from its Dockerfile; its image tag is the gateway's own.
      if (entry.dockerfile_path) delete entry.image;
      else delete entry.dockerfile_path;
      return entry;
    }
    case "certificates": {
      const entry: Entry = { cert_name: view.cert_name, domains: view.domains };
      if (view.email) entry.email = view.email;
      // A certificate without an ACME directory was made by the gateway itself (acme: false).
      if (view.acme_directory_url === null) entry.acme = false;
      return entry;
    }
  }
}

/** An entry without the fields that equal the API's default for it: what export writes. */
export function minimalEntry(kind: Kind, entry: Entry): Entry {
  const defaults: Entry =
    kind === "proxies"
      ? { ...PROXY_DEFAULTS, preserve_host_header: defaultPreserveHost(String(entry.target_url)) }
      : kind === "routes"
        ? ROUTE_DEFAULTS
        : kind === "external_services"
          ? { description: "", routing_enabled: true }
          : kind === "resources"
            ? { proxy_target: null, scopes: [], description: "" }
            : kind === "docker_services"
              ? { memory_limit: null, cpu_limit: null, environment: {}, command: null, labels: {}, bind_address: "127.0.0.1", networks: [], port_configs: [] }
              : kind === "oauth_clients"
                ? CLIENT_DEFAULTS
                : {};
  const always = new Set([KEY_FIELD[kind], "target_url", "path_pattern", "target_type", "target_value", "domains", ...(kind === "oauth_clients" ? ["redirect_uris", "scope"] : [])]);
  return Object.fromEntries(Object.entries(entry).filter(([field, value]) => always.has(field) || !Bun.deepEquals(value, defaults[field])));
}

/**
 * What export writes: minimal entries, sorted by name, without the fallback
 * certificate and without the certificates a proxy requested for itself (the
 * proxy requests them again where the file is applied).
 */
export function exportDocument(state: GatewayState): Entry {
  const proxyCertificates = new Set((state.proxies ?? []).map((p) => proxyCertificateName(String(p.hostname))));
  const document: Entry = { version: 1 };
  for (const [kind, entries] of Object.entries(state) as [Kind, Entry[]][]) {
    const kept = entries.filter((e) => kind !== "certificates" || (e.cert_name !== FALLBACK_CERTIFICATE && !proxyCertificates.has(String(e.cert_name))));
    document[kind] = kept.map((e) => minimalEntry(kind, e)).sort((a, b) => String(a[KEY_FIELD[kind]]).localeCompare(String(b[KEY_FIELD[kind]])));
  }
  return document;
}
