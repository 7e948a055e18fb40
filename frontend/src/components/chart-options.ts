// What every uPlot chart of the page is drawn with: the theme's colours, the root font size and
// the axes (times in the chosen zone, durations on round steps).
import { useEffect, useMemo, useState } from "react";
import uPlot, { type Options } from "uplot";
import { timeAxisLabels } from "../lib/axis";
import { LOCAL, type TimeZone } from "../lib/format";
import type { ChartLine } from "./SeriesChart";

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** What the charts draw with from the stylesheet: custom properties, which differ by theme. */
export function readPalette() {
  return {
    ok: cssVar("--ok"),
    bad: cssVar("--bad"),
    neutral: cssVar("--neutral"),
    accent: cssVar("--accent"),
    warn: cssVar("--warn"),
    muted: cssVar("--muted"),
    border: cssVar("--border"),
    font: cssVar("--font"),
  };
}

export type Palette = ReturnType<typeof readPalette>;

/** The theme's palette, read again when the theme shown changes. */
export function usePalette(theme: string): Palette {
  // eslint-disable-next-line react-hooks/exhaustive-deps -- `theme` is what changes them, though not read here
  return useMemo(() => readPalette(), [theme]);
}

/** The root font size in px (the wall-TV layout raises it), followed across resizes. */
export function useRootFontPx(): number {
  const read = () => parseFloat(getComputedStyle(document.documentElement).fontSize) || 14;
  const [px, setPx] = useState(read);
  useEffect(() => {
    const onResize = () => setPx(read());
    window.addEventListener("resize", onResize);
    return () => window.removeEventListener("resize", onResize);
  }, []);
  return px;
}

/** Tick steps that read well as durations: 1s … 30s, 1m … 30m, 1h … 12h, days. */
const DURATION_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
];

export function baseOptions(
  zone: TimeZone,
  rootPx: number,
  palette: Palette,
  yFormat: (v: number) => string,
  durations = false,
): Omit<Options, "width" | "height" | "series"> {
  const fontPx = Math.round(rootPx * 0.86);
  const font = `${fontPx}px ${palette.font}`;
  const axis = {
    stroke: palette.muted,
    font,
    grid: { stroke: palette.border, width: 1 },
    ticks: { stroke: palette.border },
  };
  return {
    // Ticks fall on midnights and hours of the chosen zone, and are labelled in it (24-hour clock).
    ...(zone === LOCAL ? {} : { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), zone) }),
    legend: { show: false },
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      {
        ...axis,
        // Two lines: the time, and the date under a new day's first tick.
        size: Math.round(fontPx * 4.6),
        space: fontPx * 4,
        values: (_u, splits, _axis, _space, incr) => timeAxisLabels(splits, incr, zone),
      },
      {
        ...axis,
        size: Math.round(fontPx * 5.8),
        values: (_u, ticks) => ticks.map((t) => yFormat(t)),
        ...(durations ? { incrs: DURATION_STEPS } : {}),
      },
    ],
  };
}

type Quantiles<F extends string> = { [K in `${F}_p50_seconds` | `${F}_p95_seconds`]?: number | null };

/** The p50 and p95 lines of a figure (`duration` or `queue` seconds) over a series' points. */
export function quantileLines<F extends "duration" | "queue">(
  points: readonly Quantiles<F>[],
  figure: F,
  colors: { accent: string; warn: string },
): ChartLine[] {
  return [
    { label: "p50", color: colors.accent, values: points.map((p) => p[`${figure}_p50_seconds`] ?? null) },
    { label: "p95", color: colors.warn, values: points.map((p) => p[`${figure}_p95_seconds`] ?? null) },
  ];
}
