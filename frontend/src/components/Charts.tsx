// The two charts (uPlot): runs per period, stacked by outcome, and average / p95 duration.
// Hovering — or the arrow keys on a focused chart — shows the exact values of a period in a legend
// under the title. Each chart has a text summary (its accessible name) and a table of its data.
// The pieces are exported for the other views' charts (SeriesChart.tsx).
import { useEffect, useEffectEvent, useId, useMemo, useRef, useState } from "react";
import uPlot, { type AlignedData, type Options } from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Metrics } from "../api/client";
import { periodLabel } from "../lib/axis";
import { keyStep, peak, stack } from "../lib/charts";
import { formatCount, formatDuration, formatTime, type TimeZone } from "../lib/format";
import type { Grain } from "../lib/url";
import { useZone } from "../lib/prefs";
import { baseOptions, readPalette, useRootFontPx } from "./chart-options";

/** The runs chart's series, bottom-up, with their colours. */
const OUTCOMES = [
  { label: "success", color: "ok" },
  { label: "failure", color: "bad" },
  { label: "cancelled", color: "neutral" },
] as const;

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  format: (v: number | null) => string;
}

export function UPlot({
  options,
  data,
  label,
  hint,
  theme,
  onHover,
  onFocusChange,
}: {
  options: Omit<Options, "width" | "height">;
  /** The theme the options' colours are from (on the element, for tests). */
  theme: string;
  data: AlignedData;
  label: string;
  /** The id of the element that explains the keys. */
  hint: string;
  onHover: (idx: number | null) => void;
  onFocusChange: (focused: boolean) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // Called from uPlot's events and when the chart is made: the latest props, without making a new chart.
  const hover = useEffectEvent((idx: number | null) => onHover(idx));
  const initialData = useEffectEvent(() => data);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const size = () => ({ width: Math.max(200, el.clientWidth), height: Math.max(200, el.clientHeight) });
    const u = new uPlot(
      {
        ...options,
        ...size(),
        hooks: { setCursor: [(self) => hover(self.cursor.idx ?? null)] },
      },
      initialData(),
      el,
    );
    plot.current = u;
    const observer = new ResizeObserver(() => u.setSize(size()));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Re-created only when the options change; data updates go through setData below.
  }, [options]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <div
      ref={host}
      className="chart"
      tabIndex={0}
      role="group"
      aria-roledescription="chart"
      aria-label={label}
      aria-describedby={hint}
      data-points={data[0].length}
      data-theme={theme}
      onFocus={() => onFocusChange(true)}
      onBlur={() => {
        onFocusChange(false);
        plot.current?.setCursor({ left: -10, top: -10 });
      }}
      onKeyDown={(e) => {
        const u = plot.current;
        const xs = data[0];
        if (!u) return;
        if (e.key === "Escape") {
          u.setCursor({ left: -10, top: -10 });
          return;
        }
        const next = keyStep(e.key, u.cursor.idx ?? null, xs.length);
        if (next == null) return;
        e.preventDefault();
        u.setCursor({ left: u.valToPos(xs[next]!, "x"), top: u.bbox.height / devicePixelRatio / 2 });
      }}
    />
  );
}

export function Legend({
  series,
  idx,
  times,
  zone,
  grain,
  totals,
  live,
}: {
  series: Series[];
  idx: number | null;
  times: number[];
  zone: TimeZone;
  grain: Grain;
  totals: string[];
  /** Announced while the chart has keyboard focus (the arrow keys move through periods). */
  live: boolean;
}) {
  const at = idx != null ? times[idx] : undefined;
  return (
    <div className="row muted legend" aria-live={live ? "polite" : "off"} aria-atomic="true">
      <span>{at != null ? periodLabel(new Date(at * 1000), zone, grain) : "Whole period"}</span>
      {series.map((s, i) => (
        <span key={s.label} className="row">
          <svg width="10" height="10" aria-hidden="true">
            <rect width="10" height="10" rx="2" fill={s.color} />
          </svg>
          {s.label} <strong>{idx != null ? s.format(s.values[idx] ?? null) : totals[i]}</strong>
        </span>
      ))}
    </div>
  );
}

/** The chart's numbers as a table, built only when opened (there may be 2,000 periods). */
export function DataTable({
  caption,
  series,
  times,
  zone,
  grain,
}: {
  caption: string;
  series: Series[];
  times: number[];
  zone: TimeZone;
  grain: Grain;
}) {
  const [open, setOpen] = useState(false);
  return (
    <details className="chart-data" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Data table</summary>
      {open && (
        <div className="table-wrap chart-table">
          <table className="grid">
            <caption className="sr-only">{caption}</caption>
            <thead>
              <tr>
                <th scope="col">{grain === "hour" ? "Hour" : grain === "day" ? "Day" : "Week"}</th>
                {series.map((s) => (
                  <th key={s.label} scope="col">
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {times.map((t, i) => (
                <tr key={t}>
                  <th scope="row">{periodLabel(new Date(t * 1000), zone, grain)}</th>
                  {series.map((s) => (
                    <td key={s.label}>{s.format(s.values[i] ?? null)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}

export function Charts({
  metrics,
  grain,
  onGrain,
  hourAllowed,
  theme,
}: {
  metrics: Metrics;
  grain: Grain;
  onGrain: (g: Grain) => void;
  hourAllowed: boolean;
  /** "light" or "dark", as shown: the charts are redrawn in its colours when it changes. */
  theme: string;
}) {
  const zone = useZone();
  const rootPx = useRootFontPx();
  const [runIdx, setRunIdx] = useState<number | null>(null);
  const [durIdx, setDurIdx] = useState<number | null>(null);
  const [focused, setFocused] = useState<"runs" | "durations" | null>(null);
  const ts = metrics.time_series;
  const times = useMemo(() => ts.map((p) => Date.parse(p.timestamp) / 1000), [ts]);
  const s = metrics.summary;
  const id = useId();

  // Read again when the theme shown changes: the stylesheet's custom properties differ by theme.
  // eslint-disable-next-line react-hooks/exhaustive-deps -- `theme` is what changes them, though not read here
  const palette = useMemo(() => readPalette(), [theme]);

  const runSeries: Series[] = useMemo(
    () =>
      OUTCOMES.map((o) => ({
        label: o.label,
        color: palette[o.color],
        values: ts.map((p) => p[o.label]),
        format: formatCount,
      })),
    [ts, palette],
  );
  const durSeries: Series[] = useMemo(
    () => [
      {
        label: "average",
        color: palette.accent,
        values: ts.map((p) => p.avg_duration ?? null),
        format: formatDuration,
      },
      { label: "p95", color: palette.warn, values: ts.map((p) => p.p95_duration ?? null), format: formatDuration },
    ],
    [ts, palette],
  );

  // Options (a new chart) only when the zone, the font size or the colours change: new data goes
  // to the chart as it is (setData).
  const runOptions = useMemo(() => {
    const base = baseOptions(zone, rootPx, palette, (v) => formatCount(v));
    const bars = uPlot.paths.bars!({ size: [0.8, 60], gap: 1 });
    // Drawn tallest first (cancelled on top of failure on top of success).
    const drawn = [...OUTCOMES].reverse();
    return {
      ...base,
      series: [
        {},
        ...drawn.map((o) => ({
          label: o.label,
          fill: palette[o.color],
          stroke: palette[o.color],
          width: 0,
          paths: bars,
          points: { show: false },
        })),
      ],
    };
  }, [zone, rootPx, palette]);
  const runData = useMemo<AlignedData>(() => {
    const totals = stack(runSeries.map((sr) => sr.values));
    return [times, ...totals.reverse()];
  }, [times, runSeries]);

  const durOptions = useMemo(() => {
    // "10m", "1h" rather than "10m 00s", "1h 00m" on round ticks.
    const base = baseOptions(zone, rootPx, palette, (v) => formatDuration(v).replace(/ 0+[smh]$/, ""), true);
    const lines = [
      { label: "average", stroke: palette.accent },
      { label: "p95", stroke: palette.warn },
    ];
    return {
      ...base,
      series: [{}, ...lines.map((l) => ({ ...l, width: 2, spanGaps: false, points: { show: false } }))],
    };
  }, [zone, rootPx, palette]);
  const durData = useMemo<AlignedData>(() => [times, ...durSeries.map((sr) => sr.values)], [times, durSeries]);

  const span = `${formatTime(metrics.window.from, zone)} to ${formatTime(metrics.window.to, zone)}`;
  const when = (at: number) => periodLabel(new Date(at * 1000), zone, grain);
  const worst = peak(times, runSeries[1]!.values);
  const slowest = peak(times, durSeries[1]!.values);
  const runLabel =
    `Runs per ${grain}, ${span}: ${formatCount(s.success)} succeeded, ${formatCount(s.failure)} failed, ${formatCount(s.cancelled)} cancelled` +
    (worst ? `; most failures: ${formatCount(worst.value)} (${when(worst.at)})` : "") +
    ".";
  const durLabel =
    `Duration per ${grain}, ${span}: average ${formatDuration(s.avg_duration_seconds)}, p95 ${formatDuration(s.p95_duration_seconds)}` +
    (slowest ? `; slowest p95: ${formatDuration(slowest.value)} (${when(slowest.at)})` : "") +
    ".";

  const grainToggle = (
    <div className="seg" role="group" aria-label="Group by">
      {(["hour", "day", "week"] as const).map((g) => (
        <button
          key={g}
          type="button"
          aria-pressed={grain === g}
          disabled={g === "hour" && !hourAllowed}
          onClick={() => onGrain(g)}
        >
          {g}
        </button>
      ))}
    </div>
  );

  return (
    <section className="charts" aria-label="Charts">
      <p id={`${id}-keys`} className="sr-only">
        Arrow keys move between periods, Page Up and Page Down by a tenth, Home and End to the first and last; the
        legend reads the values out.
      </p>
      <article className="card" aria-labelledby={`${id}-runs`}>
        <div className="chart-head">
          <h2 id={`${id}-runs`}>Runs by outcome</h2>
          <span className="spacer" />
          {grainToggle}
        </div>
        <Legend
          series={runSeries}
          idx={runIdx}
          times={times}
          zone={zone}
          grain={grain}
          live={focused === "runs"}
          totals={[formatCount(s.success), formatCount(s.failure), formatCount(s.cancelled)]}
        />
        <UPlot
          key={grain}
          options={runOptions}
          data={runData}
          theme={theme}
          onHover={setRunIdx}
          label={runLabel}
          hint={`${id}-keys`}
          onFocusChange={(f) => setFocused(f ? "runs" : null)}
        />
        <DataTable caption={`Runs per ${grain}`} series={runSeries} times={times} zone={zone} grain={grain} />
      </article>
      <article className="card" aria-labelledby={`${id}-durations`}>
        <div className="chart-head">
          <h2 id={`${id}-durations`}>Duration</h2>
          <span className="spacer" />
        </div>
        <Legend
          series={durSeries}
          idx={durIdx}
          times={times}
          zone={zone}
          grain={grain}
          live={focused === "durations"}
          totals={[formatDuration(s.avg_duration_seconds), formatDuration(s.p95_duration_seconds)]}
        />
        <UPlot
          key={grain}
          options={durOptions}
          data={durData}
          theme={theme}
          onHover={setDurIdx}
          label={durLabel}
          hint={`${id}-keys`}
          onFocusChange={(f) => setFocused(f ? "durations" : null)}
        />
        <DataTable caption={`Duration per ${grain}`} series={durSeries} times={times} zone={zone} grain={grain} />
      </article>
    </section>
  );
}
