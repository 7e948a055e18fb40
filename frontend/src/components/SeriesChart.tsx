// A chart card of the jobs, runners and usage views: a few series over time, as lines or bars,
// with the dashboard charts' legend (hover or arrow keys), text summary and data table.
import { useId, useMemo, useState, type ReactNode } from "react";
import uPlot, { type AlignedData } from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatNumber, formatMinutes } from "../lib/insight";
import { formatDuration, formatPercent } from "../lib/format";
import { useZone } from "../lib/prefs";
import type { Grain } from "../lib/url";
import { baseOptions, usePalette, useRootFontPx } from "./chart-options";
import { DataTable, Legend, UPlot, type Series } from "./Charts";

/** What the values are: durations (seconds), counts, minutes or ratios (0–1, shown as percentages) — their axis and legend format. */
export type Unit = "duration" | "count" | "minutes" | "percent";

const FORMATS: Record<Unit, (v: number | null) => string> = {
  duration: formatDuration,
  count: formatNumber,
  minutes: formatMinutes,
  percent: formatPercent,
};

/** Axis ticks: "10m", "1h" rather than "10m 00s"; "1.5k min" is left to the legend. */
const TICKS: Record<Unit, (v: number) => string> = {
  duration: (v) => formatDuration(v).replace(/ 0+[smh]$/, ""),
  count: (v) => formatNumber(v),
  minutes: (v) => formatNumber(v),
  percent: (v) => `${formatNumber(v * 100)}%`,
};

export interface ChartLine {
  label: string;
  color: string;
  values: (number | null)[];
}

export function SeriesChart({
  title,
  times,
  lines,
  unit,
  grain,
  summary,
  totals,
  theme,
  bars = false,
  head,
  testId,
}: {
  title: string;
  /** Start of each period, ISO instants. */
  times: string[];
  lines: ChartLine[];
  unit: Unit;
  grain: Grain;
  /** The chart's text summary (its accessible name). */
  summary: string;
  /** What the legend shows per series when no period is chosen (the whole window's figures). */
  totals: string[];
  /** "light" or "dark", as shown: the chart is redrawn in its colours when it changes. */
  theme: string;
  /** Bars (drawn in order, the later over the earlier) instead of lines. */
  bars?: boolean;
  /** More controls beside the title. */
  head?: ReactNode;
  testId?: string;
}) {
  const zone = useZone();
  const rootPx = useRootFontPx();
  const palette = usePalette(theme);
  const id = useId();
  const [idx, setIdx] = useState<number | null>(null);
  const [focused, setFocused] = useState(false);
  const xs = useMemo(() => times.map((t) => Date.parse(t) / 1000), [times]);
  const series: Series[] = useMemo(
    () => lines.map((l) => ({ label: l.label, color: l.color, values: l.values, format: FORMATS[unit] })),
    [lines, unit],
  );
  const look = JSON.stringify(lines.map((l) => [l.label, l.color]));
  // Up to about two months of days, each period's value is a dot as well: a period alone between
  // empty ones (a job that ran once that day) would not show as a line.
  const dots = xs.length <= 62;
  // A new chart only when the zone, the font size, the colours or the series' kinds change; new
  // values go to the chart as they are.
  const options = useMemo(() => {
    const base = baseOptions(zone, rootPx, palette, TICKS[unit], unit === "duration");
    const barPaths = uPlot.paths.bars!({ size: [0.7, 48], gap: 1 });
    return {
      ...base,
      series: [
        {},
        ...(JSON.parse(look) as [string, string][]).map(([label, color]) => {
          return bars
            ? { label, fill: color, stroke: color, width: 0, paths: barPaths, points: { show: false } }
            : { label, stroke: color, width: 2, spanGaps: false, points: { show: dots, size: 5 } };
        }),
      ],
    };
  }, [zone, rootPx, palette, unit, look, bars, dots]);
  const data = useMemo<AlignedData>(() => [xs, ...lines.map((l) => l.values)], [xs, lines]);
  return (
    <article className="card" aria-labelledby={`${id}-title`} data-testid={testId}>
      <p id={`${id}-keys`} className="sr-only">
        Arrow keys move between periods, Page Up and Page Down by a tenth, Home and End to the first and last; the
        legend reads the values out.
      </p>
      <div className="chart-head">
        <h2 id={`${id}-title`}>{title}</h2>
        <span className="spacer" />
        {head}
      </div>
      <Legend series={series} idx={idx} times={xs} zone={zone} grain={grain} totals={totals} live={focused} />
      <UPlot
        key={grain}
        options={options}
        data={data}
        theme={theme}
        onHover={setIdx}
        label={summary}
        hint={`${id}-keys`}
        onFocusChange={setFocused}
      />
      <DataTable caption={`${title} per ${grain}`} series={series} times={xs} zone={zone} grain={grain} />
    </article>
  );
}
