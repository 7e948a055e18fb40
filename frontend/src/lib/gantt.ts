// The run panel's timeline (Gantt) arithmetic: each job's queue and execution spans, the critical
// path derived from timing, the scale shared by the attempts of a run and its axis ticks. Pure
// functions of the API's jobs and the current time, so they are unit-tested without a browser.
import type { Schemas } from "../api/client";

type RunStatus = Schemas["RunStatus"];

/** What the timeline needs of a job or a step (the API's `Job` and `Step` have these fields). */
export interface Timed {
  status: RunStatus;
  queued_at?: string | null;
  started_at?: string | null;
  finished_at?: string | null;
}

/** A job or step's times in ms since the epoch; `end` is `now` while it is queued or running. */
export interface Span {
  /** When it was queued (null: not known). */
  queued: number | null;
  /** When it started (null: it has not, or not known). */
  started: number | null;
  /** When it finished, or `now` while it is still queued or running (null: not known). */
  end: number | null;
  /** Still queued or running: the bar goes on to now. */
  open: boolean;
}

/** Statuses that will not change any more. */
const TERMINAL: ReadonlySet<RunStatus> = new Set(["success", "failure", "cancelled", "skipped"]);

function ms(at: string | null | undefined): number | null {
  if (!at) return null;
  const t = Date.parse(at);
  return Number.isFinite(t) ? t : null;
}

/**
 * A job or step's span. A queued or running one ends now (never before it started); a finished one
 * without a finish time ends where its last known time is, so it is drawn as a point, not a bar to now.
 */
export function spanOf(item: Timed, now: number): Span {
  const queued = ms(item.queued_at);
  let started = ms(item.started_at);
  // A start before the queue time is a clock skew between the provider's events: start at the queue.
  if (started != null && queued != null && started < queued) started = queued;
  const open = !TERMINAL.has(item.status);
  let end = ms(item.finished_at);
  const last = started ?? queued;
  if (end == null) {
    end = open && last != null ? Math.max(now, last) : last;
  } else if (last != null && end < last) {
    end = last;
  }
  return { queued, started, end, open: open && end != null };
}

/** When a span became ready to run: its queue time, else its start; null when neither is known. */
function readyAt(s: Span): number | null {
  return s.queued ?? s.started;
}

/** How far apart a job's finish and the next one's queue time may be and still count as "at or
 * before" (providers stamp events a little after the fact). */
export const CRITICAL_TOLERANCE_MS = 2_000;

/**
 * The critical path: the chain of jobs that set the run's duration, first job first, as indexes
 * into `spans`. Jobs carry no dependency graph, so it is derived from timing: start from the job that
 * finished last (a running or queued job ends now), then repeatedly step back to the job that
 * finished latest at or before the current one was queued (its start when the queue time is
 * unknown), within `tolerance` ms, among jobs queued strictly before it. Jobs without any time are
 * left out; ties go to the job that became ready first (the longer chain), then to the first listed.
 */
export function criticalPath(spans: readonly Span[], tolerance = CRITICAL_TOLERANCE_MS): number[] {
  let last = -1;
  spans.forEach((s, i) => {
    if (s.end == null) return;
    const best = last >= 0 ? spans[last]! : null;
    if (!best || s.end > best.end! || (s.end === best.end && earlier(s, best))) last = i;
  });
  if (last < 0) return [];
  const path = [last];
  const seen = new Set(path);
  for (;;) {
    const current = spans[path[path.length - 1]!]!;
    const ready = readyAt(current);
    if (ready == null) break;
    let prev = -1;
    spans.forEach((s, i) => {
      if (seen.has(i) || s.end == null || s.end > ready + tolerance) return;
      // A predecessor was ready before this job was; one ready at the same time ran beside it.
      const its = readyAt(s) ?? s.end;
      if (its >= ready) return;
      const best = prev >= 0 ? spans[prev]! : null;
      if (!best || s.end > best.end! || (s.end === best.end && earlier(s, best))) prev = i;
    });
    if (prev < 0) break;
    path.push(prev);
    seen.add(prev);
  }
  return path.reverse();
}

function earlier(a: Span, b: Span): boolean {
  const ra = readyAt(a) ?? a.end!;
  const rb = readyAt(b) ?? b.end!;
  return ra < rb;
}

/** The time window of a set of spans: from the first queue (or start) to the last end. */
export function extent(spans: readonly Span[]): { from: number; to: number } | null {
  let from = Infinity;
  let to = -Infinity;
  for (const s of spans) {
    for (const t of [s.queued, s.started, s.end]) {
      if (t == null) continue;
      from = Math.min(from, t);
      to = Math.max(to, t);
    }
  }
  return Number.isFinite(from) ? { from, to } : null;
}

/** Axis steps, in seconds: each attempt's axis uses the first that gives at most `max` ticks. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400];

/**
 * Tick offsets (ms from the start) for an axis `spanMs` long: round steps, at most `max` + 1 ticks
 * including 0, never past the end.
 */
export function ticks(spanMs: number, max = 6): number[] {
  if (!(spanMs > 0)) return [0];
  const step = (STEPS.find((s) => spanMs / 1000 / s <= max) ?? Math.ceil(spanMs / 1000 / max / 86_400) * 86_400) * 1000;
  const out: number[] = [];
  for (let t = 0; t <= spanMs + 1e-6; t += step) out.push(t);
  return out;
}

/** Where `t` falls on a scale from `from`, `span` ms long, in percent, clamped to [0, 100]. */
export function percent(t: number, from: number, span: number): number {
  if (!(span > 0)) return 0;
  return Math.min(100, Math.max(0, ((t - from) / span) * 100));
}
