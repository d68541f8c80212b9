/**
 * Keeps this node's host table in step with Redis: a snapshot at start, then
 * every event on `events:workflow` about a proxy, route or service URL, each
 * applied by re-reading the record it names and rebuilding the table, which
 * is swapped in one step. Requests read `table` and never wait on Redis; if
 * Redis goes away the last table keeps serving, and a full reload runs when
 * it comes back.
 *
 * Other in-memory state that follows the same stream (certificates) joins as
 * a `StreamFollower`: reloaded with the snapshot, and once after each batch
 * of events that concerns it, so a burst of changes costs one reload.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../core/logger";
import { parseStreamEntry, type WorkflowEvent } from "../orchestration/events";
import { keys } from "../storage/keys";
import type { ProxyRecord, ProxyRepository } from "../storage/proxy-repository";
import type { RouteRecord, RouteRepository } from "../storage/route-repository";
import type { EdgeAuthSettings } from "../auth/edge/policy";
import type { McpGateFactory } from "../mcp/mcp-endpoint";
import { buildHostTable, HostTable } from "./host-table";

export interface StreamFollower {
  /** True for the event types that should make it reload. */
  wants(eventType: string): boolean;
  reload(): Promise<void>;
}

const BLOCK_MS = 1_000;
const RETRY_MS = 500;

export class LiveConfig {
  private proxies = new Map<string, ProxyRecord>();
  private routes = new Map<string, RouteRecord>();
  private serviceUrls = new Map<string, string>();
  private current = new HostTable(new Map());
  private lastEventId = "0-0";
  private running = false;
  private follower: Redis | undefined;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly repos: { proxies: ProxyRepository; routes: RouteRepository },
    private readonly log: Logger,
    private readonly followers: readonly StreamFollower[] = [],
    /** What the host table compiles proxies' auth policies against. */
    private readonly edgeAuth?: EdgeAuthSettings,
    /** The gates each MCP endpoint is compiled with (rate limits). */
    private readonly mcpGates?: McpGateFactory,
  ) {}

  get table(): HostTable {
    return this.current;
  }

  /** The id of the last `events:workflow` entry applied here ("0-0": none yet), for /health's lag. */
  get appliedEventId(): string {
    return this.lastEventId;
  }

  /** Loads the snapshot, then follows the stream in the background. */
  async start(): Promise<void> {
    await this.reload();
    this.running = true;
    this.follower = this.redis.duplicate({ connectionName: "portcullis-config-follower" });
    this.follower.on("error", () => {});
    this.stopped = this.follow(this.follower);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.follower?.disconnect();
    await this.stopped;
  }

  /** Everything from Redis again. The stream position is taken first, so no event falls in between. */
  async reload(): Promise<void> {
    const [latest] = await this.redis.xrevrange(keys.workflowStream, "+", "-", "COUNT", 1);
    this.lastEventId = latest?.[0] ?? "0-0";
    const [proxies, routes, serviceUrls] = await Promise.all([
      this.repos.proxies.list(),
      this.repos.routes.list(),
      this.loadServiceUrls(),
      ...this.followers.map((f) => f.reload()),
    ]);
    this.proxies = new Map(proxies.map((p) => [p.hostname, p]));
    this.routes = new Map(routes.map((r) => [r.route_id, r]));
    this.serviceUrls = serviceUrls;
    this.rebuild();
  }

  private async follow(conn: Redis): Promise<void> {
    let needsReload = false;
    while (this.running) {
      try {
        if (needsReload) {
          await this.reload();
          needsReload = false;
          this.log.info({ proxies: this.proxies.size, routes: this.routes.size }, "configuration reloaded after a redis interruption");
        }
        const reply = (await conn.xread("COUNT", 500, "BLOCK", BLOCK_MS, "STREAMS", keys.workflowStream, this.lastEventId)) as
          | [string, [string, string[]][]][]
          | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        const events = entries.map(parseStreamEntry);
        let tableChanged = false;
        for (const event of events) if (await this.apply(event)) tableChanged = true;
        const concerned = this.followers.filter((f) => events.some((e) => f.wants(e.event_type)));
        await Promise.all(concerned.map((f) => f.reload()));
        this.lastEventId = entries[entries.length - 1]![0];
        // Other events (a revoked token, a certificate) leave the table as it is: recompiling every proxy for
        // them would cost each node CPU, and the connections' per-proxy reuse (raw-edge) a fresh start.
        if (tableChanged) this.rebuild();
      } catch (err) {
        if (!this.running) break;
        needsReload = true;
        this.log.debug({ err: (err as Error).message }, "config follower interrupted, retrying");
        await Bun.sleep(RETRY_MS);
      }
    }
  }

  /**
   * Brings the one record an event names up to date; true when the event is
   * about something the table is built from (it is rebuilt after the batch).
   */
  private async apply(event: WorkflowEvent): Promise<boolean> {
    if (event.event_type.startsWith("proxy_") && event.hostname) {
      const record = await this.repos.proxies.get(event.hostname);
      if (record) this.proxies.set(event.hostname, record);
      else this.proxies.delete(event.hostname);
    } else if (event.event_type.startsWith("route_") && typeof event.data.route_id === "string") {
      const record = await this.repos.routes.get(event.data.route_id);
      if (record) this.routes.set(record.route_id, record);
      else this.routes.delete(event.data.route_id);
    } else if (event.event_type === "service_url_changed" && typeof event.data.name === "string") {
      const url = await this.redis.get(keys.serviceUrl(event.data.name));
      if (url) this.serviceUrls.set(event.data.name, url);
      else this.serviceUrls.delete(event.data.name);
    } else return false;
    return true;
  }

  private rebuild(): void {
    const table = buildHostTable({ proxies: this.proxies.values(), routes: this.routes.values(), serviceUrls: this.serviceUrls, edgeAuth: this.edgeAuth, mcpGates: this.mcpGates });
    const known = new Set(this.current.problems);
    for (const problem of table.problems) if (!known.has(problem)) this.log.warn({ problem }, "configuration problem");
    this.current = table;
  }

  private async loadServiceUrls(): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const prefix = keys.serviceUrl("");
    let cursor = "0";
    do {
      const [next, batch] = await this.redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (batch.length === 0) continue;
      const values = await this.redis.mget(batch);
      batch.forEach((key, i) => values[i] && found.set(key.slice(prefix.length), values[i]!));
    } while (cursor !== "0");
    return found;
  }
}
