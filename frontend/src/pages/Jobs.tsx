// Jobs: every job of the filtered window, sorted by the server (slowest, most failing, longest queue,
// most minutes) and paged; a row opens the job's trend and its slowest recent executions, which
// open in the run panel.
import { useEffect, useRef } from "react";
import type { Schemas } from "../api/client";
import { JOBS_PER_PAGE, seriesGrain, useJobSeries, useJobs } from "../api/insight";
import { DeltaText, ErrorBox, Pager, SelectableRow, Skeleton, SortHeader, StatusBadge } from "../components/common";
import { quantileLines, usePalette } from "../components/chart-options";
import { Filters } from "../components/Filters";
import { Sparkline } from "../components/Kpis";
import { RunPanel } from "../components/RunPanel";
import { SeriesChart } from "../components/SeriesChart";
import { delta, formatCount, formatDuration, formatPercent, formatTime } from "../lib/format";
import { formatMinutes, formatMoney, labelsText, sparkGrain } from "../lib/insight";
import { useZone } from "../lib/prefs";
import { windowOf, type JobRef, type JobSort, type View } from "../lib/url";

type JobStats = Schemas["JobStats"];

const SORTS: [JobSort, string][] = [
  ["slowest", "Slowest"],
  ["failing", "Most failing"],
  ["queue", "Longest queue"],
  ["minutes", "Most minutes"],
];

const same = (a: JobRef | undefined, b: JobRef) =>
  !!a && a.repo === b.repo && a.workflow === b.workflow && a.job === b.job;
const refOf = (j: JobStats): JobRef => ({ repo: j.repo, workflow: j.workflow, job: j.job });
const nameOf = (j: JobRef) => `${j.repo} · ${j.workflow} · ${j.job}`;

export function Jobs({
  view,
  onView,
  theme,
}: {
  view: View;
  onView: (patch: Partial<View>, replace?: boolean) => void;
  theme: string;
}) {
  const jobs = useJobs(view);
  const sort = view.jobSort ?? "slowest";
  const page = view.jobsPage ?? 1;
  const total = jobs.data?.total ?? 0;
  const items = jobs.data?.items ?? [];
  const currency = jobs.data?.currency ?? "USD";

  return (
    <>
      <Filters view={view} onView={onView} />
      {view.job && (
        <JobTrend
          key={nameOf(view.job)}
          view={view}
          job={view.job}
          stats={items.find((j) => same(view.job, refOf(j)))}
          currency={currency}
          theme={theme}
          onClose={() => onView({ job: undefined })}
          onOpenRun={(run) => onView({ run }, true)}
        />
      )}
      <article className="card" aria-labelledby="jobs-title">
        <div className="chart-head">
          <h2 id="jobs-title">Jobs</h2>
          {jobs.data && <span className="muted">{formatCount(total)} in this period</span>}
          <span className="spacer" />
          <div className="seg" role="group" aria-label="Sort jobs">
            {SORTS.map(([s, label]) => (
              <button key={s} type="button" aria-pressed={sort === s} onClick={() => onView({ jobSort: s })}>
                {label}
              </button>
            ))}
          </div>
        </div>
        {jobs.isPending ? (
          <Skeleton lines={8} />
        ) : jobs.isError ? (
          <ErrorBox error={jobs.error} retry={() => void jobs.refetch()} />
        ) : items.length === 0 ? (
          <p className="muted">
            No finished jobs match these filters in this period. Jobs come from GitHub <code>workflow_job</code>{" "}
            deliveries, GitLab job hooks and CDEvents task runs.
          </p>
        ) : (
          <div className="table-wrap">
            <table className="grid jobs-table" aria-labelledby="jobs-title">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Median duration</th>
                  <th scope="col">Runs</th>
                  <SortHeader label="Failure rate" sorted={sort === "failing"} />
                  <th scope="col">Flake rate</th>
                  <SortHeader label="Duration p50 / p95" sorted={sort === "slowest"} />
                  <SortHeader label="Queue p50 / p95" sorted={sort === "queue"} />
                  <SortHeader label="Billable minutes" sorted={sort === "minutes"} />
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {items.map((j) => (
                  <JobRow
                    key={nameOf(j)}
                    job={j}
                    view={view}
                    currency={currency}
                    selected={same(view.job, refOf(j))}
                    onSelect={() => onView({ job: refOf(j) })}
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          page={page}
          perPage={JOBS_PER_PAGE}
          total={total}
          noun="jobs"
          onPage={(jobsPage) => onView({ jobsPage })}
        />
      </article>
      {view.run && (
        <RunPanel
          id={view.run}
          onClose={() => onView({ run: undefined }, true)}
          onOpen={(run) => onView({ run }, true)}
          onOpenTest={(test) => onView({ page: "tests", test })}
        />
      )}
    </>
  );
}

function JobRow({
  job,
  view,
  currency,
  selected,
  onSelect,
}: {
  job: JobStats;
  view: View;
  currency: string;
  selected: boolean;
  onSelect: () => void;
}) {
  const p = job.previous;
  return (
    <SelectableRow selected={selected} onSelect={onSelect} data-job={job.job}>
      <td className="job-name">
        <strong>{job.job}</strong>
        <span className="muted small truncate" title={`${job.repo} · ${job.workflow}`}>
          {job.repo} · {job.workflow}
        </span>
        {job.labels.length > 0 && (
          <span className="row labels">
            {job.labels.map((l) => (
              <span key={l.join(",")} className="pill">
                {labelsText(l)}
              </span>
            ))}
          </span>
        )}
      </td>
      <td className="spark-cell">
        <JobSpark view={view} job={refOf(job)} />
      </td>
      <td>{formatCount(job.runs)}</td>
      <td>
        <span className="figure">{formatPercent(job.failure_rate)}</span>
        <br />
        <DeltaText delta={delta(job.failure_rate, p.failure_rate, "rate", "lower")} />
      </td>
      <td>
        <span className="figure">{formatPercent(job.flake_rate)}</span>
        {job.flaky > 0 && (
          <>
            <br />
            <span className="muted small">{formatCount(job.flaky)} flaky</span>
          </>
        )}
      </td>
      <td>
        <span className="figure">
          {formatDuration(job.duration_p50_seconds)} / {formatDuration(job.duration_p95_seconds)}
        </span>
        <br />
        <DeltaText delta={delta(job.duration_p95_seconds, p.duration_p95_seconds, "relative", "lower")} />
      </td>
      <td>
        <span className="figure">
          {formatDuration(job.queue_p50_seconds)} / {formatDuration(job.queue_p95_seconds)}
        </span>
        <br />
        <DeltaText delta={delta(job.queue_p95_seconds, p.queue_p95_seconds, "relative", "lower")} />
      </td>
      <td>
        <span className="figure">{formatMinutes(job.billable_minutes)}</span>
        <br />
        <DeltaText delta={delta(job.billable_minutes, p.billable_minutes, "relative", "lower")} />
      </td>
      <td>{formatMoney(job.cost, currency)}</td>
    </SelectableRow>
  );
}

/**
 * The job's median duration per period (a day a point over a week or a month, an hour over a day),
 * drawn like the KPI cards' sparklines; a job that ran in one period only is a dot.
 */
function JobSpark({ view, job }: { view: View; job: JobRef }) {
  const w = windowOf(view);
  const series = useJobSeries(view, job, sparkGrain(w.to.getTime() - w.from.getTime()));
  if (!series.data) return <span className="muted">{series.isError ? "—" : ""}</span>;
  const values = series.data.points.map((p) => p.duration_p50_seconds ?? null);
  const label = `Median duration of ${job.job} per ${series.data.group_by}`;
  const known = values.flatMap((v, i) => (v != null ? [i] : []));
  if (known.length !== 1) return <Sparkline values={values} label={label} />;
  const x = values.length > 1 ? (known[0]! / (values.length - 1)) * 200 : 100;
  return (
    <svg className="spark" viewBox="0 0 200 32" preserveAspectRatio="none" role="img" aria-label={label}>
      <line className="dot" x1={x} x2={x} y1={16} y2={16} vectorEffect="non-scaling-stroke" />
    </svg>
  );
}

function JobTrend({
  view,
  job,
  stats,
  currency,
  theme,
  onClose,
  onOpenRun,
}: {
  view: View;
  job: JobRef;
  stats: JobStats | undefined;
  currency: string;
  theme: string;
  onClose: () => void;
  onOpenRun: (run: string) => void;
}) {
  const zone = useZone();
  const series = useJobSeries(view, job);
  const palette = usePalette(theme);
  const heading = useRef<HTMLHeadingElement>(null);
  // Opened from the table below: brought into view, with focus on its title.
  useEffect(() => {
    heading.current?.focus({ preventScroll: true });
    heading.current?.scrollIntoView?.({ block: "nearest" });
  }, []);
  const points = series.data?.points ?? [];
  const times = points.map((p) => p.t);
  const w = windowOf(view);
  const grain = series.data?.group_by ?? seriesGrain(view);
  const span = `${formatTime(w.from, zone)} to ${formatTime(w.to, zone)}`;
  return (
    <section className="card job-trend" aria-labelledby="job-trend-title">
      <div className="chart-head">
        <h2 id="job-trend-title" ref={heading} tabIndex={-1}>
          {job.job}{" "}
          <span className="muted">
            {job.repo} · {job.workflow}
          </span>
        </h2>
        <span className="spacer" />
        <button type="button" className="btn small" onClick={onClose} aria-label={`Close the trend of ${job.job}`}>
          ✕
        </button>
      </div>
      {stats && (
        <p className="muted">
          {formatCount(stats.runs)} runs, {formatPercent(stats.failure_rate)} failed, {formatPercent(stats.flake_rate)}{" "}
          flaky (passed on a re-run after failing on the same commit), duration p50{" "}
          {formatDuration(stats.duration_p50_seconds)} and p95 {formatDuration(stats.duration_p95_seconds)}, queue p95{" "}
          {formatDuration(stats.queue_p95_seconds)}, {formatMinutes(stats.billable_minutes)} (
          {formatMoney(stats.cost, currency)}).
        </p>
      )}
      {series.isPending ? (
        <Skeleton lines={6} />
      ) : series.isError ? (
        <ErrorBox error={series.error} retry={() => void series.refetch()} />
      ) : (
        <>
          <div className="charts">
            <SeriesChart
              title="Duration"
              testId="job-duration-chart"
              times={times}
              unit="duration"
              grain={grain}
              theme={theme}
              lines={quantileLines(points, "duration", palette)}
              totals={[formatDuration(stats?.duration_p50_seconds), formatDuration(stats?.duration_p95_seconds)]}
              summary={`Duration of ${job.job} per ${grain}, ${span}: p50 ${formatDuration(stats?.duration_p50_seconds)}, p95 ${formatDuration(stats?.duration_p95_seconds)}.`}
            />
            <SeriesChart
              title="Queue time"
              times={times}
              unit="duration"
              grain={grain}
              theme={theme}
              lines={quantileLines(points, "queue", palette)}
              totals={[formatDuration(stats?.queue_p50_seconds), formatDuration(stats?.queue_p95_seconds)]}
              summary={`Queue time of ${job.job} per ${grain}: p50 ${formatDuration(stats?.queue_p50_seconds)}, p95 ${formatDuration(stats?.queue_p95_seconds)}.`}
            />
            <SeriesChart
              title="Runs and failures"
              times={times}
              unit="count"
              grain={grain}
              theme={theme}
              bars
              lines={[
                { label: "runs", color: palette.neutral, values: points.map((p) => p.runs) },
                { label: "failures", color: palette.bad, values: points.map((p) => p.failures) },
              ]}
              totals={[
                formatCount(points.reduce((n, p) => n + p.runs, 0)),
                formatCount(points.reduce((n, p) => n + p.failures, 0)),
              ]}
              summary={`Runs of ${job.job} per ${grain}: ${formatCount(points.reduce((n, p) => n + p.runs, 0))} runs, ${formatCount(points.reduce((n, p) => n + p.failures, 0))} failed.`}
            />
          </div>
          <SlowestRuns executions={series.data.slowest} onOpenRun={onOpenRun} />
        </>
      )}
    </section>
  );
}

function SlowestRuns({
  executions,
  onOpenRun,
}: {
  executions: Schemas["JobExecution"][];
  onOpenRun: (run: string) => void;
}) {
  const zone = useZone();
  return (
    <div className="slowest">
      <h3 id="slowest-title">Slowest runs in this period</h3>
      {executions.length === 0 ? (
        <p className="muted">No finished runs of this job in this period.</p>
      ) : (
        <div className="table-wrap">
          <table className="grid" aria-labelledby="slowest-title">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
                <th scope="col">Queue</th>
                <th scope="col">Branch</th>
                <th scope="col">Status</th>
                <th scope="col">Run</th>
              </tr>
            </thead>
            <tbody>
              {executions.map((e) => (
                <tr key={e.job_id}>
                  <td className="when" title={formatTime(e.started_at, zone, "full")}>
                    {formatTime(e.started_at, zone)}
                  </td>
                  <td>{formatDuration(e.duration_seconds)}</td>
                  <td>{formatDuration(e.queue_seconds)}</td>
                  <td className="truncate">{e.branch ?? "—"}</td>
                  <td>
                    <StatusBadge status={e.status} />
                  </td>
                  <td className="actions">
                    <div className="row">
                      <button
                        type="button"
                        className="btn small"
                        onClick={() => onOpenRun(e.run_id)}
                        aria-label={`Open run ${e.run_id}`}
                      >
                        Open run
                      </button>
                      {e.url && (
                        <a className="btn small ghost" href={e.url} target="_blank" rel="noopener noreferrer">
                          Job in CI ↗
                        </a>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
