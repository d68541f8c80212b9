/** "5m ago", "2h ago", "3d ago"; older dates as YYYY-MM-DD. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 0) return "in the future";
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  if (seconds < 30 * 86400) return `${Math.floor(seconds / 86400)}d ago`;
  return new Date(then).toISOString().slice(0, 10);
}

/** A time ahead: "in 5m", "in 2h", "in 89d"; two years or more ahead as YYYY-MM-DD; a past time as relativeTime does. */
export function timeUntil(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((then - now) / 1000);
  if (seconds <= 0) return relativeTime(iso, now);
  if (seconds < 60) return "in <1m";
  if (seconds < 3600) return `in ${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `in ${Math.floor(seconds / 3600)}h`;
  if (seconds < 730 * 86400) return `in ${Math.floor(seconds / 86400)}d`;
  return new Date(then).toISOString().slice(0, 10);
}

/** For an expiry: as timeUntil, and "expired 3d ago" once past. */
export function expiresIn(iso: string | null | undefined, now = Date.now()): string {
  if (!iso || Number.isNaN(Date.parse(iso)) || Date.parse(iso) > now) return timeUntil(iso, now);
  return `expired ${relativeTime(iso, now)}`;
}
