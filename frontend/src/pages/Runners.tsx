// Runner pools (label sets): a tile each with the jobs queued and running now — kept current by the
// stream's `runners` events — the queue time and concurrency of the chosen pool over the window, and
// the jobs waiting longest. Sized for a wall TV: at 1920 × 1080, eight pools, their charts and the
// waiting list fit on one screen.
import type { Schemas } from "../api/client";
import { seriesGrain, useRunnerSeries, useRunners } from "../api/insight";
import { ErrorBox, Skeleton } from "../components/common";
import { quantileLines, usePalette } from "../components/chart-options";
import { Filters } from "../components/Filters";
import { RunPanel } from "../components/RunPanel";
import { SeriesChart } from "../components/SeriesChart";
import { formatCount, formatDuration, formatElapsed, formatTime } from "../lib/format";
import {
  formatMinutes,
  formatNumber,
  labelsParam,
  labelsText,
  selectedLabels,
  waitedSeconds,
  waitingLongest,
  type Waiting,
} from "../lib/insight";
import { useZone } from "../lib/prefs";
import { formatView, windowOf, withFilter, type JobRef, type View } from "../lib/url";
import { useNow } from "../lib/useNow";

type RunnerPool = Schemas["RunnerPool"];

export function Runners({
  view,
  onView,
  theme,
}: {
  view: View;
  onView: (patch: Partial<View>, replace?: boolean) => void;
  theme: string;
}) {
  const runners = useRunners(view);
  const pools = runners.data?.items ?? [];
  const selected = selectedLabels(pools, view.labels);
  return (
    <>
      <Filters view={view} onView={onView} fields={[]} />
      {runners.isPending ? (
        <Skeleton lines={6} />
      ) : runners.isError ? (
        <ErrorBox error={runners.error} retry={() => void runners.refetch()} />
      ) : pools.length === 0 ? (
        <p className="card muted">
          No jobs yet: runner pools appear with the first job a source reports (GitHub <code>workflow_job</code>, GitLab
          job hooks, CDEvents task runs).
        </p>
      ) : (
        <div className="runners-board">
          <section className="pools" aria-label="Runner pools">
            {pools.map((p) => (
              <PoolTile
                key={labelsParam(p.labels)}
                pool={p}
                selected={labelsParam(p.labels) === selected}
                onSelect={() => onView({ labels: labelsParam(p.labels) })}
              />
            ))}
          </section>
          {selected !== undefined && (
            <PoolCharts
              view={view}
              labels={selected}
              pool={pools.find((p) => labelsParam(p.labels) === selected)}
              theme={theme}
            />
          )}
          <WaitingList
            jobs={waitingLongest(pools)}
            staleAfter={runners.data.stale_after_hours}
            view={view}
            onOpenRun={(run) => onView({ run }, true)}
            onOpenJob={(job) => onView({ page: "jobs", job })}
          />
        </div>
      )}
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

function PoolTile({ pool, selected, onSelect }: { pool: RunnerPool; selected: boolean; onSelect: () => void }) {
  const name = labelsText(pool.labels);
  const key = labelsParam(pool.labels);
  return (
    <article className={`card pool${pool.queued > 0 ? " waiting" : ""}`} aria-label={`Pool ${name}`} data-labels={key}>
      <h2 className="pool-name">
        <button
          type="button"
          className="pool-select"
          aria-pressed={selected}
          onClick={onSelect}
          title={`Show the queue time and concurrency of ${name}`}
        >
          {name}
        </button>
      </h2>
      <div className="pool-counts">
        <span className="count">
          <span className="value" data-testid={`queued-${key}`}>
            {formatCount(pool.queued)}
          </span>
          <span className="label">queued</span>
        </span>
        <span className="count">
          <span className="value" data-testid={`running-${key}`}>
            {formatCount(pool.running)}
          </span>
          <span className="label">running</span>
        </span>
        {pool.stale > 0 && (
          <span
            className="count stale"
            title="Reported queued or running for longer than the stale limit: their completion was surely lost"
          >
            <span className="value">{formatCount(pool.stale)}</span>
            <span className="label">stale</span>
          </span>
        )}
      </div>
      <p className="muted small pool-figures">
        queue p95 {formatDuration(pool.queue_p95_seconds)} · busy max {formatNumber(pool.busy_max)} ·{" "}
        {formatCount(pool.jobs)} jobs · {formatMinutes(pool.billable_minutes)}
      </p>
    </article>
  );
}

function PoolCharts({
  view,
  labels,
  pool,
  theme,
}: {
  view: View;
  labels: string;
  /** Its figures over the whole window (absent when it has none now). */
  pool: RunnerPool | undefined;
  theme: string;
}) {
  const zone = useZone();
  const series = useRunnerSeries(view, labels);
  const palette = usePalette(theme);
  const w = windowOf(view);
  const points = series.data?.points ?? [];
  const times = points.map((p) => p.t);
  const grain = series.data?.group_by ?? seriesGrain(view);
  const name = labelsText(labels ? labels.split(",") : []);
  const span = `${formatTime(w.from, zone)} to ${formatTime(w.to, zone)}`;
  const max = (values: (number | null | undefined)[]) =>
    values.reduce<number | null>((m, v) => (v != null && (m == null || v > m) ? v : m), null);
  const peakQueue = max(points.map((p) => p.queue_p95_seconds));
  const peakBusy = max(points.map((p) => p.busy_max));
  if (series.isPending) return <Skeleton lines={6} />;
  if (series.isError) return <ErrorBox error={series.error} retry={() => void series.refetch()} />;
  return (
    <section className="pool-charts" aria-label={`Charts of ${name}`}>
      <SeriesChart
        title={`Queue time · ${name}`}
        testId="pool-queue-chart"
        times={times}
        unit="duration"
        grain={grain}
        theme={theme}
        lines={quantileLines(points, "queue", palette)}
        totals={[formatDuration(pool?.queue_p50_seconds), formatDuration(pool?.queue_p95_seconds)]}
        summary={`Queue time of ${name} per ${grain}, ${span}: p50 ${formatDuration(pool?.queue_p50_seconds)}, p95 ${formatDuration(pool?.queue_p95_seconds)}; highest p95 in a ${grain} ${formatDuration(peakQueue)}.`}
      />
      <SeriesChart
        title={`Concurrency · ${name}`}
        testId="pool-busy-chart"
        times={times}
        unit="count"
        grain={grain}
        theme={theme}
        lines={[
          { label: "average", color: palette.accent, values: points.map((p) => p.busy_avg ?? null) },
          { label: "busiest minute", color: palette.warn, values: points.map((p) => p.busy_max ?? null) },
        ]}
        totals={[formatNumber(pool?.busy_avg), formatNumber(pool?.busy_max ?? peakBusy)]}
        summary={`Jobs running at once in ${name} per ${grain}, ${span}: ${formatNumber(pool?.busy_avg)} on average, ${formatNumber(pool?.busy_max ?? peakBusy)} in the busiest minute.`}
      />
    </section>
  );
}

function WaitingList({
  jobs,
  staleAfter,
  view,
  onOpenRun,
  onOpenJob,
}: {
  jobs: Waiting[];
  staleAfter: number;
  view: View;
  onOpenRun: (run: string) => void;
  onOpenJob: (job: JobRef) => void;
}) {
  const now = useNow();
  const zone = useZone();
  return (
    <article className="card waiting-list" aria-labelledby="waiting-title">
      <h2 id="waiting-title">Waiting longest</h2>
      {jobs.length === 0 ? (
        <p className="muted">No job is waiting for a runner.</p>
      ) : (
        <ol className="waiting-jobs">
          {jobs.map((j) => {
            const job: JobRef | null =
              j.repo && j.workflow ? { repo: j.repo, workflow: j.workflow, job: j.name } : null;
            return (
              <li key={j.job_id} data-job-id={j.job_id}>
                <span className="wait" title={`Queued ${formatTime(j.queued_at, zone, "full")}`}>
                  {formatElapsed(waitedSeconds(j, now))}
                </span>
                <span className="what">
                  <strong>{j.name}</strong>{" "}
                  <span className="muted">
                    {j.repo ?? "?"}
                    {j.workflow ? ` · ${j.workflow}` : ""} · {labelsText(j.labels)}
                  </span>
                </span>
                <span className="row">
                  <button
                    type="button"
                    className="btn small"
                    onClick={() => onOpenRun(j.run_id)}
                    aria-label={`Open the run of ${j.name}`}
                  >
                    Run
                  </button>
                  {job && (
                    <a
                      className="btn small ghost"
                      href={formatView(withFilter(view, { page: "jobs", job }))}
                      aria-label={`The trend of ${j.name}`}
                      onClick={(e) => {
                        e.preventDefault();
                        onOpenJob(job);
                      }}
                    >
                      Job
                    </a>
                  )}
                  {j.url && (
                    <a className="btn small ghost" href={j.url} target="_blank" rel="noopener noreferrer">
                      CI ↗
                    </a>
                  )}
                </span>
              </li>
            );
          })}
        </ol>
      )}
      <p className="muted small hint">
        The oldest queued job of each pool. Jobs queued or running for more than {staleAfter} h count as stale.
      </p>
    </article>
  );
}
