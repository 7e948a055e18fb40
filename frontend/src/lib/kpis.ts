// The KPI cards' figures: each value with its change and its series, and the sparkline's path.
import type { Metrics, Point } from "../api/client";
import { delta, formatCount, formatDuration, formatPercent, type Delta } from "./format";

export interface Kpi {
  label: string;
  value: string;
  delta: Delta;
  /** Its value per period, for the sparkline; absent when the API has no series of it. */
  series?: (number | null)[];
  hint: string;
  /** What the change is against, when not the previous period: "previous 24 h". */
  against?: string;
}

export function kpisOf(m: Metrics): Kpi[] {
  const s = m.summary;
  const p = m.previous;
  const ts = m.time_series;
  const rate = (pt: Point) => (pt.success + pt.failure > 0 ? pt.success / (pt.success + pt.failure) : null);
  const dayBefore = "previous 24 h";
  return [
    {
      label: "Success rate",
      value: formatPercent(s.success_rate),
      delta: delta(s.success_rate, p.success_rate, "rate", "higher"),
      series: ts.map(rate),
      hint: "success ÷ (success + failure); cancelled and skipped runs do not count",
    },
    {
      label: "Flake rate",
      value: formatPercent(s.flake_rate),
      delta: delta(s.flake_rate, p.flake_rate, "rate", "lower"),
      hint: `flaky runs ÷ (success + failure): ${formatCount(s.flaky_runs)} ${s.flaky_runs === 1 ? "run" : "runs"} passed on a re-run after an attempt of the same run and commit failed`,
    },
    {
      label: "Total runs",
      value: formatCount(s.total_runs),
      delta: delta(s.total_runs, p.total_runs, "relative", "higher"),
      series: ts.map((pt) => pt.success + pt.failure + pt.cancelled + pt.skipped),
      hint: `finished runs; ${formatCount(s.cancelled)} cancelled, ${formatCount(s.running)} queued or running now`,
    },
    {
      label: "Average duration",
      value: formatDuration(s.avg_duration_seconds),
      delta: delta(s.avg_duration_seconds, p.avg_duration_seconds, "relative", "lower"),
      series: ts.map((pt) => pt.avg_duration ?? null),
      hint: `p50 ${formatDuration(s.p50_duration_seconds)} · p95 ${formatDuration(s.p95_duration_seconds)}`,
    },
    {
      label: "Failed runs (24 h)",
      value: formatCount(s.failed_last_24h),
      // Against the 24 hours before, whatever the selected period.
      delta: delta(s.failed_last_24h, s.failed_previous_24h, "relative", "lower", dayBefore),
      against: dayBefore,
      series: ts.map((pt) => pt.failure),
      hint: `${formatCount(s.failed_previous_24h)} in the 24 h before; ${formatCount(s.failure)} failed in the selected period (the sparkline)`,
    },
    {
      label: "Queue time (avg)",
      value: formatDuration(s.avg_queue_seconds),
      delta: delta(s.avg_queue_seconds, p.avg_queue_seconds, "relative", "lower"),
      series: ts.map((pt) => pt.avg_queue ?? null),
      hint: `p95 ${formatDuration(s.p95_queue_seconds)}; from queued to started`,
    },
  ];
}

/** A line through the non-empty points, scaled to its own range. */
export function sparkPath(values: (number | null)[], width: number, height: number): string {
  const known = values.filter((v): v is number => v != null && Number.isFinite(v));
  if (known.length < 2) return "";
  const min = Math.min(...known);
  const max = Math.max(...known);
  const span = max - min || 1;
  const step = width / Math.max(1, values.length - 1);
  let path = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v == null || !Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = (i * step).toFixed(1);
    const y = (height - 2 - ((v - min) / span) * (height - 4)).toFixed(1);
    path += `${pen ? "L" : "M"}${x},${y}`;
    pen = true;
  });
  return path;
}
