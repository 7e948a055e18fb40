// Recent runs: newest first by default, paged with "Load more"; runs announced by the stream
// appear at the top as they happen. Only time and duration sort: the API orders runs by those
// across every page, and sorting one loaded page in the browser would mislead.
import { startTransition, useEffect, useState } from "react";
import { useRuns } from "../api/hooks";
import type { Run } from "../api/client";
import { formatDuration, formatElapsed, formatTime } from "../lib/format";
import { useNow } from "../lib/useNow";
import { useZone } from "../lib/prefs";
import type { RunStatus, Sort, View } from "../lib/url";
import { ErrorBox, Skeleton, StatusBadge } from "./common";

const STATUSES: RunStatus[] = ["success", "failure", "running", "queued", "cancelled", "skipped"];

/**
 * Rows in the table's first paint; the rest of the loaded page follows in a background render just
 * after it (later updates render every row at once). The table starts near the bottom of the first
 * screen, so these are more than it shows, and its 50 rows were three quarters of the page's
 * elements (and of its first layout).
 */
const FIRST_ROWS = 12;

export function RunsTable({
  view,
  onView,
  onOpen,
}: {
  view: View;
  onView: (patch: Partial<View>) => void;
  onOpen: (id: string, raw?: boolean) => void;
}) {
  const zone = useZone();
  const now = useNow();
  const runs = useRuns(view);
  const rows = runs.data?.pages.flatMap((p) => p.runs) ?? [];
  const [allRows, setAllRows] = useState(false);
  useEffect(() => {
    if (!allRows && rows.length > FIRST_ROWS) startTransition(() => setAllRows(true));
  }, [allRows, rows.length]);
  const shown = allRows ? rows : rows.slice(0, FIRST_ROWS);
  // Runs that were not in the list before its last change (the stream's, a refetch's): highlighted.
  // Not on the first load. Kept from render to render until the list changes again.
  const [loaded, setLoaded] = useState({ data: runs.data, fresh: new Set<string>() });
  if (loaded.data !== runs.data) {
    const before = new Set(loaded.data?.pages.flatMap((p) => p.runs.map((r) => r.id)));
    setLoaded({
      data: runs.data,
      fresh: new Set(loaded.data ? rows.filter((r) => !before.has(r.id)).map((r) => r.id) : []),
    });
  }
  const fresh = loaded.fresh;

  /** A sortable column's header: a button, with aria-sort saying the current order. */
  const sortHeader = (label: string, asc: Sort, desc: Sort, words: [string, string]) => {
    const active = view.sort === asc || view.sort === desc;
    const next = view.sort === desc ? asc : desc;
    return (
      <th
        scope="col"
        className="sortable"
        aria-sort={view.sort === desc ? "descending" : view.sort === asc ? "ascending" : "none"}
      >
        <button
          type="button"
          onClick={() => onView({ sort: next })}
          title={`Sort all runs by ${label.toLowerCase()}: ${next === desc ? words[1] : words[0]} first`}
        >
          {label}{" "}
          <span aria-hidden="true" className={active ? "sort-on" : "sort-off"}>
            {active ? (view.sort === desc ? "▼" : "▲") : "↕"}
          </span>
        </button>
      </th>
    );
  };

  return (
    <article className="card runs" aria-labelledby="runs-title">
      <div className="chart-head">
        <h2 id="runs-title">Runs</h2>
        <span className="spacer" />
        <label className="row muted">
          Status
          <select
            value={view.status ?? ""}
            onChange={(e) => onView({ status: (e.target.value || undefined) as RunStatus | undefined })}
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      {runs.isPending ? (
        <Skeleton lines={6} />
      ) : runs.isError ? (
        <ErrorBox error={runs.error} retry={() => void runs.refetch()} />
      ) : rows.length === 0 ? (
        <p className="muted">No runs match these filters in this period.</p>
      ) : (
        <div className="table-wrap">
          <table className="grid" aria-labelledby="runs-title" aria-describedby="runs-sort-hint">
            <thead>
              <tr>
                {sortHeader("Time", "oldest", "newest", ["oldest", "newest"])}
                <th scope="col">Repository</th>
                <th scope="col">Workflow</th>
                <th scope="col">Branch</th>
                {sortHeader("Duration", "fastest", "slowest", ["fastest", "slowest"])}
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <RunRow
                  key={r.id}
                  run={r}
                  zone={zone}
                  now={now}
                  fresh={fresh.has(r.id)}
                  selected={view.run === r.id}
                  onOpen={onOpen}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rows.length > 0 && (
        <p id="runs-sort-hint" className="muted hint">
          Sorted by the server across all pages: by time or by duration (the column headers with arrows).
        </p>
      )}
      {runs.hasNextPage && (
        <div className="row">
          <button
            type="button"
            className="btn"
            disabled={runs.isFetchingNextPage}
            onClick={() => void runs.fetchNextPage()}
          >
            {runs.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </article>
  );
}

/** The duration cell: the run's duration, or for one not finished, how long it has run (or waited) so far. */
function durationCell(run: Run, now: number) {
  if (run.duration_seconds != null || (run.status !== "running" && run.status !== "queued")) {
    return formatDuration(run.duration_seconds);
  }
  const since = run.status === "running" ? run.started_at : (run.queued_at ?? run.created_at);
  if (!since) return formatDuration(null);
  const so = formatElapsed((now - Date.parse(since)) / 1000);
  return (
    <span className="elapsed" title={`${run.status === "running" ? "Running" : "Queued"} for ${so} so far`}>
      {so} <span className="muted">so far</span>
    </span>
  );
}

function RunRow({
  run,
  zone,
  now,
  fresh,
  selected,
  onOpen,
}: {
  run: Run;
  zone: string;
  now: number;
  fresh: boolean;
  selected: boolean;
  onOpen: (id: string, raw?: boolean) => void;
}) {
  const at = run.started_at ?? run.queued_at ?? run.created_at;
  return (
    <tr
      className={`clickable${fresh ? " fresh" : ""}`}
      tabIndex={0}
      aria-current={selected ? "true" : undefined}
      data-run-id={run.id}
      onClick={() => onOpen(run.id)}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onOpen(run.id);
        }
      }}
    >
      <td className="when" title={formatTime(at, zone, "full")}>
        {formatTime(at, zone)}
      </td>
      <td className="truncate" title={run.repo}>
        {run.repo}
      </td>
      <td className="truncate" title={run.workflow}>
        {run.workflow}
      </td>
      <td className="truncate" title={run.branch ?? ""}>
        {run.branch ?? "—"}
      </td>
      <td>{durationCell(run, now)}</td>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td className="actions">
        <div className="row">
          {run.url && (
            <a
              className="btn small ghost"
              href={run.url}
              target="_blank"
              rel="noopener noreferrer"
              onClick={(e) => e.stopPropagation()}
              aria-label={`Open run ${run.id} in CI`}
            >
              Open in CI ↗
            </a>
          )}
          <button
            type="button"
            className="btn small ghost"
            aria-label={`View raw payload of run ${run.id}`}
            onClick={(e) => {
              e.stopPropagation();
              onOpen(run.id, true);
            }}
          >
            Raw
          </button>
        </div>
      </td>
    </tr>
  );
}
