// The run panel's timeline (Gantt): one row per job — its queue time hatched, its execution solid in
// the colour of its conclusion, running and queued jobs drawn on to now — with its steps as sub-rows,
// a time axis, the critical path outlined, and every attempt of a re-run in a column of its own on
// one scale. A tree for the keyboard (arrows move, → and ← open and close a job's steps) whose items
// carry their whole description, and a table of the same figures.
import { useQueries } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { api, call, type RunDetail, type Schemas } from "../api/client";
import { keys } from "../api/keys";
import { formatDuration, formatTime, type TimeZone } from "../lib/format";
import { criticalPath, extent, percent, spanOf, ticks, type Span } from "../lib/gantt";
import { useZone } from "../lib/prefs";
import { useNow } from "../lib/useNow";
import { ErrorBox, Skeleton, StatusBadge } from "./common";

type Job = Schemas["Job"];
type Step = Schemas["Step"];
type Attempt = Schemas["Attempt"];

/** Steps are shown open at first when the attempt has at most this many in all. */
const OPEN_STEPS_UP_TO = 16;

interface Row {
  key: string;
  name: string;
  status: Job["status"];
  span: Span;
  critical: boolean;
  /** The job's key, for a step. */
  parent?: string;
  steps: Row[];
}

interface Scale {
  /** The attempt's first time: the axis's 0. */
  from: number;
  /** The axis's length in ms, the same for every attempt of a run. */
  span: number;
}

const seconds = (from: number | null, to: number | null) => (from != null && to != null ? (to - from) / 1000 : null);

/** What a row's bar says: on hover and focus, and as the tree item's name. */
function describe(row: Row, zone: TimeZone): string {
  const { queued, started, end, open } = row.span;
  const parts = [`${row.name}: ${row.status}`];
  // Until it started (or, never started, until it ended: cancelled or skipped in the queue).
  const queue = seconds(queued, started ?? end);
  const ran = seconds(started, end);
  if (queue != null && row.parent == null) {
    parts.push(
      started == null && open ? `queued for ${formatDuration(queue)} so far` : `queued ${formatDuration(queue)}`,
    );
  }
  if (ran != null) parts.push(open ? `running for ${formatDuration(ran)} so far` : `ran ${formatDuration(ran)}`);
  const first = queued ?? started;
  if (first != null) {
    const clock = (t: number) => formatTime(new Date(t), zone, "time");
    parts.push(
      open ? `since ${clock(first)}` : end != null ? `${clock(first)} to ${clock(end)}` : `at ${clock(first)}`,
    );
  } else {
    parts.push("no times recorded");
  }
  if (row.critical) parts.push("on the critical path");
  if (row.steps.length) parts.push(`${row.steps.length} step${row.steps.length === 1 ? "" : "s"}`);
  return parts.join(", ");
}

function stepRows(job: Job, key: string, now: number): Row[] {
  return job.steps.map((s: Step, i) => ({
    key: `${key}.${i}`,
    name: s.name || `Step ${s.number ?? i + 1}`,
    status: s.status,
    span: spanOf(s, now),
    critical: false,
    parent: key,
    steps: [],
  }));
}

function jobRows(jobs: readonly Job[], now: number): Row[] {
  const spans = jobs.map((j) => spanOf(j, now));
  const critical = new Set(criticalPath(spans));
  return jobs.map((j, i) => ({
    key: `j${i}`,
    name: j.name,
    status: j.status,
    span: spans[i]!,
    critical: critical.has(i),
    steps: stepRows(j, `j${i}`, now),
  }));
}

/** The queue and execution bars of a row on its track. */
function Bars({ row, scale }: { row: Row; scale: Scale }) {
  const { queued, started, end } = row.span;
  const at = (t: number) => percent(t, scale.from, scale.span);
  const bar = (from: number, to: number, className: string) => {
    const left = at(from);
    // At least a sliver, so an instant job is still seen.
    const width = Math.max(at(to) - left, 0.4);
    return <span className={className} style={{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }} />;
  };
  const queueEnd = started ?? end;
  return (
    <>
      {queued != null && queueEnd != null && queueEnd > queued && bar(queued, queueEnd, "gantt-queue")}
      {started != null && end != null && bar(started, end, "gantt-bar")}
      {started == null && queued == null && end != null && bar(end, end, "gantt-bar")}
    </>
  );
}

function Axis({ scale, zone }: { scale: Scale; zone: TimeZone }) {
  const marks = ticks(scale.span);
  return (
    <div className="gantt-axis" aria-hidden="true">
      <span className="gantt-axis-start" title={formatTime(new Date(scale.from), zone, "full")}>
        {formatTime(new Date(scale.from), zone, "time")}
      </span>
      <span className="gantt-ticks">
        {marks.map((t) => (
          <span key={t} className="gantt-tick" style={{ left: `${percent(scale.from + t, scale.from, scale.span)}%` }}>
            {t === 0 ? "0" : `+${formatDuration(t / 1000).replace(/ 00[sm]$/, "")}`}
          </span>
        ))}
      </span>
    </div>
  );
}

function Line({
  row,
  scale,
  tip,
  zone,
  expanded,
  onHover,
  onToggle,
}: {
  row: Row;
  scale: Scale;
  tip: boolean;
  zone: TimeZone;
  expanded?: boolean;
  onHover: (key: string | null) => void;
  onToggle?: () => void;
}) {
  const start = row.span.queued ?? row.span.started ?? row.span.end;
  const left = start == null ? 0 : percent(start, scale.from, scale.span);
  return (
    <div
      className={`gantt-line ${row.status}${row.critical ? " critical" : ""}${row.span.open ? " open" : ""}`}
      onMouseEnter={() => onHover(row.key)}
      onMouseLeave={() => onHover(null)}
      onClick={onToggle}
    >
      <span className="gantt-label">
        {row.steps.length > 0 && (
          <span className="gantt-caret" aria-hidden="true">
            {expanded ? "▾" : "▸"}
          </span>
        )}
        <span className="gantt-name">{row.name}</span>
        {row.critical && (
          <span className="gantt-crit" aria-hidden="true" title="On the critical path">
            ◆
          </span>
        )}
      </span>
      <span className="gantt-track">
        <Bars row={row} scale={scale} />
        {start == null && <span className="gantt-none">no times</span>}
        {tip && (
          <span
            className={`gantt-tip${left > 50 ? " end" : ""}`}
            style={left > 50 ? { right: `${100 - left}%` } : { left: `${left}%` }}
            aria-hidden="true"
          >
            {describe(row, zone)}
          </span>
        )}
      </span>
    </div>
  );
}

/** The rows of one attempt: a tree with one tab stop, as the WAI-ARIA tree pattern has it. */
function Tree({ rows, scale, label, zone }: { rows: Row[]; scale: Scale; label: string; zone: TimeZone }) {
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(() => {
    const total = rows.reduce((n, r) => n + r.steps.length, 0);
    return new Set(total <= OPEN_STEPS_UP_TO ? rows.filter((r) => r.steps.length).map((r) => r.key) : []);
  });
  const [active, setActive] = useState<string | null>(null);
  const [hover, setHover] = useState<string | null>(null);
  const [focused, setFocused] = useState<string | null>(null);
  const tree = useRef<HTMLUListElement>(null);
  const focusNext = useRef<string | null>(null);
  const visible = rows.flatMap((r) => [r, ...(expanded.has(r.key) ? r.steps : [])]);
  const current = visible.some((r) => r.key === active) ? active : (visible[0]?.key ?? null);
  const withSteps = rows.filter((r) => r.steps.length > 0);

  useEffect(() => {
    const key = focusNext.current;
    if (!key) return;
    focusNext.current = null;
    tree.current?.querySelector<HTMLElement>(`[data-key="${key}"]`)?.focus();
  });

  const toggle = (key: string, open?: boolean) =>
    setExpanded((old) => {
      const next = new Set(old);
      if (open ?? !old.has(key)) next.add(key);
      else next.delete(key);
      return next;
    });
  const moveTo = (key: string) => {
    focusNext.current = key;
    setActive(key);
    // Already rendered: focus now (no re-render follows when the key does not change).
    tree.current?.querySelector<HTMLElement>(`[data-key="${key}"]`)?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    const i = visible.findIndex((r) => r.key === current);
    const row = visible[i];
    if (!row) return;
    const job = row.parent == null && row.steps.length > 0 ? row : null;
    switch (e.key) {
      case "ArrowDown":
        if (i < visible.length - 1) moveTo(visible[i + 1]!.key);
        break;
      case "ArrowUp":
        if (i > 0) moveTo(visible[i - 1]!.key);
        break;
      case "Home":
        moveTo(visible[0]!.key);
        break;
      case "End":
        moveTo(visible[visible.length - 1]!.key);
        break;
      case "ArrowRight":
        if (job && !expanded.has(job.key)) toggle(job.key, true);
        else if (job) moveTo(job.steps[0]!.key);
        break;
      case "ArrowLeft":
        if (row.parent != null) moveTo(row.parent);
        else if (job && expanded.has(job.key)) toggle(job.key, false);
        break;
      case "Enter":
      case " ":
        if (job) toggle(job.key);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  const tip = hover ?? focused;
  const item = (row: Row, level: number, setSize: number, pos: number) => {
    const open = expanded.has(row.key);
    return (
      <li
        key={row.key}
        role="treeitem"
        data-key={row.key}
        data-critical={row.critical || undefined}
        aria-level={level}
        aria-setsize={setSize}
        aria-posinset={pos}
        aria-expanded={row.steps.length ? open : undefined}
        aria-label={describe(row, zone)}
        tabIndex={row.key === current ? 0 : -1}
      >
        <Line
          row={row}
          scale={scale}
          tip={tip === row.key}
          zone={zone}
          expanded={open}
          onHover={setHover}
          onToggle={
            row.steps.length
              ? () => {
                  setActive(row.key);
                  toggle(row.key);
                }
              : undefined
          }
        />
        {row.steps.length > 0 && open && (
          <ul role="group">{row.steps.map((s, j) => item(s, level + 1, row.steps.length, j + 1))}</ul>
        )}
      </li>
    );
  };

  return (
    <>
      {withSteps.length > 0 && (
        <div className="row">
          <span className="spacer" />
          <button
            type="button"
            className="btn small ghost"
            onClick={() =>
              setExpanded(
                withSteps.every((r) => expanded.has(r.key)) ? new Set() : new Set(withSteps.map((r) => r.key)),
              )
            }
          >
            {withSteps.every((r) => expanded.has(r.key)) ? "Hide steps" : "Show steps"}
          </button>
        </div>
      )}
      <div className="gantt-scroll" data-testid="gantt-scroll">
        <Axis scale={scale} zone={zone} />
        <div className="gantt-body">
          <span className="gantt-grid" aria-hidden="true">
            {ticks(scale.span).map((t) => (
              <span key={t} style={{ left: `${percent(scale.from + t, scale.from, scale.span)}%` }} />
            ))}
          </span>
          <ul
            ref={tree}
            role="tree"
            aria-label={label}
            className="gantt-rows"
            onKeyDown={onKeyDown}
            onFocus={(e) => {
              const key = (e.target as HTMLElement).dataset.key;
              if (key) {
                setActive(key);
                setFocused(key);
              }
            }}
            onBlur={() => setFocused(null)}
          >
            {rows.map((r, i) => item(r, 1, rows.length, i + 1))}
          </ul>
        </div>
      </div>
    </>
  );
}

/** The same figures as the chart, for reading rather than seeing. */
function TimelineTable({
  jobs,
  rows,
  zone,
  caption,
}: {
  jobs: readonly Job[];
  rows: Row[];
  zone: TimeZone;
  caption: string;
}) {
  const clock = (t: number | null) => (t == null ? "—" : formatTime(new Date(t), zone, "time"));
  return (
    <details className="gantt-data">
      <summary>Timeline as a table</summary>
      <table className="grid steps">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col">Queued</th>
            <th scope="col">Started</th>
            <th scope="col">Finished</th>
            <th scope="col">Queue</th>
            <th scope="col">Duration</th>
            <th scope="col">Critical path</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => {
            const { queued, started, end, open } = r.span;
            return (
              <tr key={r.key} data-job-id={jobs[i]!.id}>
                <th scope="row">{r.name}</th>
                <td>{r.status}</td>
                <td>{clock(queued)}</td>
                <td>{clock(started)}</td>
                <td>{clock(open || !jobs[i]!.finished_at ? null : end)}</td>
                <td>{formatDuration(seconds(queued, started ?? end))}</td>
                <td>{formatDuration(seconds(started, end))}</td>
                <td>{r.critical ? "yes" : "no"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </details>
  );
}

interface Column {
  attempt: Attempt | null;
  jobs: readonly Job[] | null;
  error?: unknown;
  retry?: () => void;
  shown: boolean;
}

function AttemptTimeline({
  column,
  scale,
  several,
  zone,
  now,
}: {
  column: Column;
  scale: Scale | null;
  several: boolean;
  zone: TimeZone;
  now: number;
}) {
  const { attempt, jobs } = column;
  const rows = useMemo(() => (jobs ? jobRows(jobs, now) : []), [jobs, now]);
  const title = several && attempt ? `Attempt ${attempt.attempt}` : "Timeline";
  const path = rows.filter((r) => r.critical);
  const pathFrom = path[0] ? (path[0].span.queued ?? path[0].span.started) : null;
  const pathTo = path.length ? path[path.length - 1]!.span.end : null;
  return (
    <section className="gantt-attempt" aria-label={several ? title : undefined} data-attempt={attempt?.attempt}>
      {several && attempt && (
        <div className="row">
          <h4>{title}</h4>
          <StatusBadge status={attempt.status} />
          <span>{formatDuration(attempt.duration_seconds)}</span>
          {column.shown && <span className="pill">shown</span>}
        </div>
      )}
      {column.error ? (
        <ErrorBox error={column.error} retry={column.retry} />
      ) : !jobs ? (
        <Skeleton lines={4} />
      ) : jobs.length === 0 || !scale ? (
        <p className="muted small">No jobs recorded for this attempt.</p>
      ) : (
        <>
          {path.length > 0 && (
            <p className="small gantt-path">
              <span className="gantt-crit" aria-hidden="true">
                ◆
              </span>{" "}
              Critical path: {path.map((r) => r.name).join(" → ")}
              {pathFrom != null && pathTo != null && <> ({formatDuration((pathTo - pathFrom) / 1000)})</>}
            </p>
          )}
          <Tree key={jobs.length} rows={rows} scale={scale} label={`${title}: jobs and steps over time`} zone={zone} />
          <TimelineTable jobs={jobs} rows={rows} zone={zone} caption={`${title}: jobs`} />
        </>
      )}
    </section>
  );
}

function Legend() {
  return (
    <p className="gantt-legend small muted" aria-hidden="true">
      <span>
        <span className="gantt-key gantt-queue" /> queued
      </span>
      <span>
        <span className="gantt-key gantt-bar success" /> ran (colour: conclusion)
      </span>
      <span>
        <span className="gantt-key gantt-bar critical" /> ◆ critical path
      </span>
    </p>
  );
}

/** The run's timeline, beside those of its other attempts; nothing when no attempt has jobs. */
export function Timeline({ run }: { run: RunDetail }) {
  const zone = useZone();
  const now = useNow();
  const several = run.attempts.length > 1;
  const others = useMemo(
    () => (several ? run.attempts.filter((a) => a.id !== run.id).map((a) => a.id) : []),
    [several, run.attempts, run.id],
  );
  // The other attempts' jobs: each attempt is a run of its own (the same cache entries as the panel's).
  const details = useQueries({
    queries: others.map((id) => ({
      queryKey: keys.run(id),
      queryFn: () => call(api.GET("/api/runs/{id}", { params: { path: { id } } })),
    })),
  });
  const columns: Column[] = several
    ? run.attempts.map((a) => {
        if (a.id === run.id) return { attempt: a, jobs: run.jobs, shown: true };
        const q = details[others.indexOf(a.id)];
        return {
          attempt: a,
          jobs: q?.data?.jobs ?? null,
          error: q?.isError ? q.error : undefined,
          retry: q ? () => void q.refetch() : undefined,
          shown: false,
        };
      })
    : [{ attempt: null, jobs: run.jobs, shown: true }];
  // One scale for every attempt: each starts at its own 0, and equal lengths look equal.
  const extents = columns.map((c) => (c.jobs?.length ? extent(c.jobs.map((j) => spanOf(j, now))) : null));
  const longest = Math.max(1_000, ...extents.map((e) => (e ? e.to - e.from : 0)));
  const loading = columns.some((c) => c.jobs == null && !c.error);
  if (!loading && columns.every((c) => !c.jobs?.length)) return null;
  return (
    <section aria-labelledby="panel-timeline" className="gantt">
      <h3 id="panel-timeline">Timeline</h3>
      <Legend />
      <div className={several ? "gantt-attempts" : undefined}>
        {columns.map((c, i) => (
          <AttemptTimeline
            key={c.attempt?.id ?? run.id}
            column={c}
            scale={extents[i] ? { from: extents[i].from, span: longest } : null}
            several={several}
            zone={zone}
            now={now}
          />
        ))}
      </div>
    </section>
  );
}
