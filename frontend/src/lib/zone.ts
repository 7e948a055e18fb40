// Wall-clock times in the chosen time zone: what a datetime-local input shows and means, and the
// IANA name the API is given. Pure functions over Intl, so daylight saving comes from the browser's
// time zone data and is unit-tested without one.
import { LOCAL, type TimeZone } from "./format";

let ownZone: string | undefined;

/**
 * The browser's own zone ("Europe/Berlin"); "UTC" when it cannot say. Looked up once: every zoned
 * time asks, and building the DateTimeFormat that knows it each time was a visible part of the
 * dashboard's first load in a CPU profile (docs/decisions/0014-dashboard-first-paint.md).
 */
export function browserZone(): string {
  if (ownZone === undefined) {
    try {
      ownZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    } catch {
      ownZone = "UTC";
    }
  }
  return ownZone;
}

/** The IANA name of a zone as the API wants it: "local" becomes the browser's zone. */
export function ianaZone(zone: TimeZone): string {
  return zone === LOCAL ? browserZone() : zone;
}

const partFormatters = new Map<string, Intl.DateTimeFormat>();

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock fields of an instant in a zone. */
export function zonedParts(at: Date | number, zone: TimeZone): Parts {
  const key = ianaZone(zone);
  let f = partFormatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone: key,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partFormatters.set(key, f);
  }
  const out: Record<string, number> = {};
  for (const p of f.formatToParts(typeof at === "number" ? new Date(at) : at)) {
    if (p.type !== "literal") out[p.type] = Number(p.value);
  }
  return out as unknown as Parts;
}

/** How far the zone's wall clock is ahead of UTC at an instant, in milliseconds. */
export function zoneOffsetMs(at: Date | number, zone: TimeZone): number {
  const t = typeof at === "number" ? at : at.getTime();
  const p = zonedParts(t, zone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** A datetime-local input's value ("2026-11-27T14:00") showing an ISO instant in the zone. */
export function toZonedInput(iso: string | undefined, zone: TimeZone): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const p = zonedParts(t, zone);
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/**
 * The instant (ISO) a datetime-local value means in the zone; null when it is not a date.
 * A time that happens twice (clocks going back) is the first; one that never happens (clocks going
 * forward) is read with the offset before the change, so it lands just after the gap, as browsers do.
 */
export function fromZonedInput(value: string, zone: TimeZone): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi, s || 0);
  if (Number.isNaN(wall)) return null;
  // The offset differs by at most a few hours either side; try both and keep what round-trips.
  const before = zoneOffsetMs(wall - 12 * 3_600_000, zone);
  const after = zoneOffsetMs(wall + 12 * 3_600_000, zone);
  const candidates = [wall - Math.max(before, after), wall - Math.min(before, after), wall - before];
  for (const t of candidates) {
    if (t + zoneOffsetMs(t, zone) === wall) return new Date(t).toISOString();
  }
  // In a gap: read with the offset in force before it.
  return new Date(wall - before).toISOString();
}
