// Formatting shared by every screen: durations, instants in the chosen time zone, and changes
// against the previous period. Pure functions, so they are unit-tested without a browser.
import type { Incident } from "../api/client";

/** "local", "UTC" or an IANA zone such as "Europe/Berlin". */
export type TimeZone = string;

export const LOCAL: TimeZone = "local";

/** 12ms, 45s, 3m 05s, 1h 02m, 2d 3h — the two largest units, rounded; "—" when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "—";
  if (seconds < 0) return "—";
  // Test cases take milliseconds: "0s" would say nothing.
  if (seconds > 0 && seconds < 0.1) return seconds < 0.0005 ? "<1ms" : `${Math.round(seconds * 1000)}ms`;
  if (seconds < 10) return `${seconds.toFixed(1).replace(/\.0$/, "")}s`;
  const total = Math.round(seconds);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3_600);
  const m = Math.floor((total % 3_600) / 60);
  const s = total % 60;
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

function pad(n: number): string {
  return n.toString().padStart(2, "0");
}

/** 93.4% (one decimal below 100), "—" when unknown. */
export function formatPercent(rate: number | null | undefined): string {
  if (rate == null || !Number.isFinite(rate)) return "—";
  const pct = rate * 100;
  return `${pct >= 99.95 && pct < 100 ? "99.9" : pct === 100 ? "100" : pct.toFixed(1)}%`;
}

const integer = new Intl.NumberFormat("en-US");

export function formatCount(n: number | null | undefined): string {
  return n == null ? "—" : integer.format(n);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: TimeZone, style: "full" | "short" | "time" | "day"): Intl.DateTimeFormat {
  const key = `${zone}|${style}`;
  let f = formatters.get(key);
  if (!f) {
    const options: Intl.DateTimeFormatOptions = {
      hourCycle: "h23",
      ...(zone === LOCAL ? {} : { timeZone: zone }),
    };
    if (style === "full") {
      Object.assign(options, {
        year: "numeric",
        month: "short",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        timeZoneName: "short",
      });
    } else if (style === "short") {
      Object.assign(options, { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit" });
    } else if (style === "time") {
      Object.assign(options, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    } else {
      Object.assign(options, { month: "short", day: "2-digit" });
    }
    f = new Intl.DateTimeFormat("en-GB", options);
    formatters.set(key, f);
  }
  return f;
}

/** An instant in the chosen zone: "27 Nov 2026, 14:03:09 CET" (full), "27 Nov, 14:03" (short). */
export function formatTime(
  at: string | Date | null | undefined,
  zone: TimeZone,
  style: "full" | "short" | "time" | "day" = "short",
): string {
  if (at == null) return "—";
  const date = typeof at === "string" ? new Date(at) : at;
  if (Number.isNaN(date.getTime())) return "—";
  return formatter(zone, style).format(date);
}

/** "just now", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(at: string | Date, now: Date = new Date()): string {
  const date = typeof at === "string" ? new Date(at) : at;
  const s = Math.round((now.getTime() - date.getTime()) / 1000);
  if (s < 45) return "just now";
  if (s < 3_600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3_600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/**
 * Time elapsed so far, to the minute (it is shown with a clock that ticks every 30 s): "<1m",
 * "3m", "1h 02m", "2d 3h"; "—" when unknown.
 */
export function formatElapsed(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 60) return "<1m";
  return formatDuration(Math.floor(seconds / 60) * 60).replace(/ 00s$/, "");
}

/** Whether a zone name is one this browser knows ("local" and "UTC" always are). */
export function isValidZone(zone: string): boolean {
  if (zone === LOCAL || zone === "UTC") return true;
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Old names browsers (ICU) still list, and the IANA names people look for today. */
const RENAMED: Record<string, string> = {
  "Asia/Calcutta": "Asia/Kolkata",
  "Asia/Katmandu": "Asia/Kathmandu",
  "Asia/Saigon": "Asia/Ho_Chi_Minh",
  "Asia/Rangoon": "Asia/Yangon",
  "Europe/Kiev": "Europe/Kyiv",
  "America/Godthab": "America/Nuuk",
  "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
  "Atlantic/Faeroe": "Atlantic/Faroe",
  "Pacific/Enderbury": "Pacific/Kanton",
  "Pacific/Truk": "Pacific/Chuuk",
  "Pacific/Ponape": "Pacific/Pohnpei",
};

/** "local", "UTC" and every zone the browser knows, by their current IANA names, sorted. */
export function zoneNames(): string[] {
  const supported = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const names = new Set(
    supported.filter((z) => z !== "UTC").map((z) => (RENAMED[z] && isValidZone(RENAMED[z]) ? RENAMED[z] : z)),
  );
  return [LOCAL, "UTC", ...[...names].sort()];
}

export type Better = "higher" | "lower";

export interface Delta {
  /** "+12%", "−3.1 pp", "±0%"; "new" when there was nothing before; null when unknown. */
  text: string | null;
  direction: "up" | "down" | "flat";
  /** Whether the change is good news, given which way is better; null when neutral. */
  good: boolean | null;
  /** Spoken form for screen readers: "up 12% vs previous period". */
  label: string;
}

/**
 * The change from the previous period (or from `against`, as the labels name it). Rates (0–1)
 * change in percentage points; counts and durations change relative to the previous value.
 */
export function delta(
  current: number | null | undefined,
  previous: number | null | undefined,
  kind: "rate" | "relative",
  better: Better,
  against = "previous period",
): Delta {
  if (current == null || !Number.isFinite(current)) {
    return { text: null, direction: "flat", good: null, label: "no data" };
  }
  if (previous == null || !Number.isFinite(previous)) {
    return { text: "new", direction: "flat", good: null, label: `no data for the ${against}` };
  }
  let change: number;
  let text: string;
  if (kind === "rate") {
    change = (current - previous) * 100;
    text = `${Math.abs(change).toFixed(1)} pp`;
  } else if (previous === 0) {
    if (current === 0) return { text: "±0%", direction: "flat", good: null, label: `unchanged vs ${against}` };
    return { text: "new", direction: "up", good: null, label: `none in the ${against}` };
  } else {
    change = ((current - previous) / previous) * 100;
    text = `${Math.abs(change) < 10 ? Math.abs(change).toFixed(1) : Math.round(Math.abs(change))}%`;
  }
  const flat = Math.abs(change) < 0.05;
  const direction = flat ? "flat" : change > 0 ? "up" : "down";
  const sign = flat ? "±" : change > 0 ? "+" : "−";
  const good = flat ? null : change > 0 === (better === "higher");
  const word = flat ? "unchanged" : change > 0 ? "up" : "down";
  return {
    text: `${sign}${flat ? (kind === "rate" ? "0.0 pp" : "0%") : text}`,
    direction,
    good,
    label: flat ? `unchanged vs ${against}` : `${word} ${text} vs ${against}`,
  };
}

/** "3 (threshold 3)", "41.3 (threshold 25)": an incident's measured value against its rule's threshold. */
export function valueVsThreshold(i: Pick<Incident, "value" | "threshold">): string | null {
  if (i.value == null) return null;
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  return i.threshold == null ? fmt(i.value) : `${fmt(i.value)} (threshold ${fmt(i.threshold)})`;
}
