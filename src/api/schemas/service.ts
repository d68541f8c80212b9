/**
 * External service bodies (001 "External Service Schema") and the name rules
 * every service shares: a DNS label, so a name can also become a hostname
 * (`{name}.{BASE_DOMAIN}`), and never one of the gateway's own services.
 */
import { t, type Static } from "elysia";
import { conflict, invalid } from "../../core/errors";
import { INTERNAL_SERVICES, isServiceName } from "../../storage/service-repository";
import { checkTargetUrl } from "./proxy-target";

/** Internal services, and names kept for the gateway's own use. */
export const RESERVED_SERVICE_NAMES: readonly string[] = [...INTERNAL_SERVICES, "auth", "localhost"];

const description = t.String({ maxLength: 1000, description: "Free text" });
const routingEnabled = t.Boolean({
  description: "true (the default): service:url:{name} points at target_url. false: the name resolves to nothing, and routes or proxies using it answer 502",
});

export const ExternalServiceCreateBody = t.Object(
  {
    service_name: t.String({ description: "1-63 lowercase letters, digits and '-', starting and ending with a letter or digit" }),
    target_url: t.String({ description: "http(s) URL of the service, no credentials, query or fragment" }),
    description: t.Optional(description),
    routing_enabled: t.Optional(routingEnabled),
  },
  { additionalProperties: false },
);

export const ExternalServiceUpdateBody = t.Object(
  {
    service_name: t.Optional(t.String({ description: "Must equal the path's name if given" })),
    target_url: t.Optional(t.String({ description: "http(s) URL of the service" })),
    description: t.Optional(description),
    routing_enabled: t.Optional(routingEnabled),
  },
  { additionalProperties: false },
);

export type ExternalServiceCreate = Static<typeof ExternalServiceCreateBody>;
export type ExternalServiceUpdate = Static<typeof ExternalServiceUpdateBody>;

export function checkServiceName(field: string, name: string): string {
  if (!isServiceName(name)) {
    throw invalid(`${field}: ${JSON.stringify(name.slice(0, 100))} is not a service name; expected 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit`);
  }
  return name;
}

/** A name a token may register: valid and not the gateway's own. */
export function checkNewServiceName(field: string, name: string): string {
  checkServiceName(field, name);
  if (RESERVED_SERVICE_NAMES.includes(name)) throw conflict(`${field}: ${JSON.stringify(name)} is reserved for the gateway's internal services`);
  return name;
}

export function checkServiceTargetUrl(value: string): string {
  return checkTargetUrl("target_url", value);
}
