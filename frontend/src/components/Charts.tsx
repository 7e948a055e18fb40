// The two charts (uPlot): runs per period, stacked by outcome, and average / p95 duration.
// Hovering shows the exact values of a period in a legend under the title.
import { useEffect, useMemo, useRef, useState } from "react";
import uPlot, { type AlignedData, type Options } from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Metrics } from "../api/client";
import { formatCount, formatDuration, formatTime, LOCAL, type TimeZone } from "../lib/format";
import type { Grain } from "../lib/url";
import { useZone } from "../lib/prefs";

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  format: (v: number | null) => string;
}

/** Stacks series bottom-up: each is drawn as the running total, tallest first. */
export function stack(series: (number | null)[][]): number[][] {
  const totals: number[][] = [];
  series.forEach((values, si) => {
    totals.push(values.map((v, i) => (v ?? 0) + (si > 0 ? totals[si - 1]![i]! : 0)));
  });
  return totals;
}

function UPlot({
  options,
  data,
  label,
  onHover,
}: {
  options: Omit<Options, "width" | "height">;
  data: AlignedData;
  label: string;
  onHover: (idx: number | null) => void;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const hover = useRef(onHover);
  hover.current = onHover;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const size = () => ({ width: Math.max(200, el.clientWidth), height: Math.max(200, el.clientHeight) });
    const u = new uPlot(
      {
        ...options,
        ...size(),
        hooks: { setCursor: [(self) => hover.current(self.cursor.idx ?? null)] },
      },
      data,
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

  return <div ref={host} className="chart" role="img" aria-label={label} />;
}

/** Tick steps that read well as durations: 1s … 30s, 1m … 30m, 1h … 12h, days. */
const DURATION_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

function baseOptions(zone: TimeZone, yFormat: (v: number) => string, durations = false): Omit<Options, "width" | "height" | "series"> {
  const axis = { stroke: cssVar("--muted"), grid: { stroke: cssVar("--border"), width: 1 }, ticks: { stroke: cssVar("--border") } };
  return {
    ...(zone === LOCAL ? {} : { tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), zone) }),
    legend: { show: false },
    cursor: { points: { size: 6 }, drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      axis,
      { ...axis, size: 70, values: (_u, ticks) => ticks.map((t) => yFormat(t)), ...(durations ? { incrs: DURATION_STEPS } : {}) },
    ],
  };
}

function Legend({ series, idx, times, zone, grain, totals }: {
  series: Series[];
  idx: number | null;
  times: number[];
  zone: TimeZone;
  grain: Grain;
  totals: string[];
}) {
  const at = idx != null ? times[idx] : undefined;
  return (
    <div className="row muted" aria-live="off">
      <span>{at != null ? formatTime(new Date(at * 1000), zone, grain === "hour" ? "short" : "day") : "Whole period"}</span>
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

export function Charts({ metrics, grain, onGrain, hourAllowed, theme }: {
  metrics: Metrics;
  grain: Grain;
  onGrain: (g: Grain) => void;
  hourAllowed: boolean;
  theme: string;
}) {
  const zone = useZone();
  const [runIdx, setRunIdx] = useState<number | null>(null);
  const [durIdx, setDurIdx] = useState<number | null>(null);
  const ts = metrics.time_series;
  const times = useMemo(() => ts.map((p) => Date.parse(p.timestamp) / 1000), [ts]);
  const s = metrics.summary;

  const runSeries: Series[] = useMemo(() => [
    { label: "success", color: cssVar("--ok"), values: ts.map((p) => p.success), format: formatCount },
    { label: "failure", color: cssVar("--bad"), values: ts.map((p) => p.failure), format: formatCount },
    { label: "cancelled", color: cssVar("--neutral"), values: ts.map((p) => p.cancelled), format: formatCount },
  ], [ts, theme]);
  const durSeries: Series[] = useMemo(() => [
    { label: "average", color: cssVar("--accent"), values: ts.map((p) => p.avg_duration ?? null), format: formatDuration },
    { label: "p95", color: cssVar("--warn"), values: ts.map((p) => p.p95_duration ?? null), format: formatDuration },
  ], [ts, theme]);

  const runOptions = useMemo(() => {
    const base = baseOptions(zone, (v) => formatCount(v));
    const bars = uPlot.paths.bars!({ size: [0.8, 60], gap: 1 });
    // Drawn tallest first (cancelled on top of failure on top of success).
    const drawn = [...runSeries].reverse();
    return { ...base, series: [{}, ...drawn.map((sr) => ({ label: sr.label, fill: sr.color, stroke: sr.color, width: 0, paths: bars, points: { show: false } }))] };
  }, [zone, grain, theme]);
  const runData = useMemo<AlignedData>(() => {
    const totals = stack(runSeries.map((sr) => sr.values));
    return [times, ...totals.reverse()];
  }, [times, runSeries]);

  const durOptions = useMemo(() => {
    const base = baseOptions(zone, (v) => formatDuration(v), true);
    return {
      ...base,
      series: [{}, ...durSeries.map((sr) => ({ label: sr.label, stroke: sr.color, width: 2, spanGaps: false, points: { show: false } }))],
    };
  }, [zone, grain, theme]);
  const durData = useMemo<AlignedData>(() => [times, ...durSeries.map((sr) => sr.values)], [times, durSeries]);

  const grainToggle = (
    <div className="seg" role="group" aria-label="Group by">
      {(["hour", "day", "week"] as const).map((g) => (
        <button key={g} type="button" aria-pressed={grain === g} disabled={g === "hour" && !hourAllowed} onClick={() => onGrain(g)}>
          {g}
        </button>
      ))}
    </div>
  );

  return (
    <section className="charts" aria-label="Charts">
      <article className="card">
        <div className="chart-head">
          <h2>Runs by outcome</h2>
          <span className="spacer" />
          {grainToggle}
        </div>
        <Legend series={runSeries} idx={runIdx} times={times} zone={zone} grain={grain}
          totals={[formatCount(s.success), formatCount(s.failure), formatCount(s.cancelled)]} />
        <UPlot options={runOptions} data={runData} onHover={setRunIdx}
          label={`Runs per ${grain}: ${s.success} succeeded, ${s.failure} failed, ${s.cancelled} cancelled`} />
      </article>
      <article className="card">
        <div className="chart-head">
          <h2>Duration</h2>
          <span className="spacer" />
        </div>
        <Legend series={durSeries} idx={durIdx} times={times} zone={zone} grain={grain}
          totals={[formatDuration(s.avg_duration_seconds), formatDuration(s.p95_duration_seconds)]} />
        <UPlot options={durOptions} data={durData} onHover={setDurIdx}
          label={`Duration per ${grain}: average ${formatDuration(s.avg_duration_seconds)}, p95 ${formatDuration(s.p95_duration_seconds)}`} />
      </article>
    </section>
  );
}
