// Time axis labels for the charts, in the page's style (24-hour clock, "27 Nov" dates as in the
// table) and in the chosen time zone, instead of uPlot's US defaults. A tick that starts a new day
// (or the first tick) also names the day on a second line, so hours are never ambiguous.
import { formatTime, type TimeZone } from "./format";
import { zonedParts } from "./zone";

const DAY = 86_400;
const formatters = new Map<string, Intl.DateTimeFormat>();

function fmt(zone: TimeZone, key: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const id = `${zone}|${key}`;
  let f = formatters.get(id);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { ...options, ...(zone === "local" ? {} : { timeZone: zone }) });
    formatters.set(id, f);
  }
  return f;
}

/**
 * Labels for ticks at `splits` (Unix seconds) spaced `incr` seconds apart:
 * - under a day: "14:00", with "27 Nov" under the first tick and under each new day's first;
 * - a day or more: "27 Nov", with the year under the first tick and where the year changes;
 * - a month or more: "Nov 2026".
 */
export function timeAxisLabels(splits: number[], incr: number, zone: TimeZone): string[] {
  let previous: ReturnType<typeof zonedParts> | null = null;
  return splits.map((s) => {
    const at = new Date(s * 1000);
    const p = zonedParts(at, zone);
    let label: string;
    if (incr >= 28 * DAY) {
      label = fmt(zone, "month", { month: "short", year: "numeric" }).format(at);
    } else if (incr >= DAY) {
      label = formatTime(at, zone, "day");
      if (!previous || previous.year !== p.year) label += `\n${p.year}`;
    } else {
      const withSeconds = incr < 60 || p.second !== 0;
      label = fmt(zone, withSeconds ? "hms" : "hm", {
        hourCycle: "h23",
        hour: "2-digit",
        minute: "2-digit",
        ...(withSeconds ? { second: "2-digit" } : {}),
      }).format(at);
      if (!previous || previous.day !== p.day || previous.month !== p.month || previous.year !== p.year) {
        label += `\n${formatTime(at, zone, "day")}`;
      }
    }
    previous = p;
    return label;
  });
}

/** The label of one period in a legend or table: "27 Nov, 14:00" for hours, "27 Nov" for days and weeks. */
export function periodLabel(at: Date, zone: TimeZone, grain: "hour" | "day" | "week"): string {
  return grain === "hour"
    ? formatTime(at, zone, "short")
    : grain === "week"
      ? `week of ${formatTime(at, zone, "day")}`
      : formatTime(at, zone, "day");
}
