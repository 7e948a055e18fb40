// Recent runs: newest first by default, sortable by time or duration, paged with "Load more";
// runs announced by the stream appear at the top as they happen.
import { useEffect, useRef } from "react";
import { useRuns } from "../api/hooks";
import type { Run } from "../api/client";
import { formatDuration, formatTime } from "../lib/format";
import { useZone } from "../lib/prefs";
import type { RunStatus, Sort, View } from "../lib/url";
import { ErrorBox, Skeleton, StatusBadge } from "./common";

const STATUSES: RunStatus[] = ["success", "failure", "running", "queued", "cancelled", "skipped"];

export function RunsTable({ view, onView, onOpen }: {
  view: View;
  onView: (patch: Partial<View>) => void;
  onOpen: (id: string) => void;
}) {
  const zone = useZone();
  const runs = useRuns(view);
  const rows = runs.data?.pages.flatMap((p) => p.runs) ?? [];
  const seen = useRef<Set<string> | null>(null);
  const fresh = new Set<string>();
  if (seen.current) for (const r of rows) if (!seen.current.has(r.id)) fresh.add(r.id);
  useEffect(() => {
    seen.current = new Set(rows.map((r) => r.id));
  });

  const sortButton = (label: string, asc: Sort, desc: Sort) => {
    const active = view.sort === asc || view.sort === desc;
    const next = view.sort === desc ? asc : desc;
    return (
      <button type="button" onClick={() => onView({ sort: next })} aria-label={`Sort by ${label}`}>
        {label} {active ? (view.sort === desc ? "▼" : "▲") : ""}
      </button>
    );
  };

  return (
    <article className="card" aria-labelledby="runs-title">
      <div className="chart-head">
        <h2 id="runs-title">Runs</h2>
        <span className="spacer" />
        <label className="row muted">
          Status
          <select value={view.status ?? ""} onChange={(e) => onView({ status: (e.target.value || undefined) as RunStatus | undefined })}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>{s}</option>
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
          <table className="grid" aria-describedby="runs-title">
            <thead>
              <tr>
                <th scope="col" aria-sort={view.sort === "newest" ? "descending" : view.sort === "oldest" ? "ascending" : "none"}>
                  {sortButton("Time", "oldest", "newest")}
                </th>
                <th scope="col">Repository</th>
                <th scope="col">Workflow</th>
                <th scope="col">Branch</th>
                <th scope="col" aria-sort={view.sort === "slowest" ? "descending" : view.sort === "fastest" ? "ascending" : "none"}>
                  {sortButton("Duration", "fastest", "slowest")}
                </th>
                <th scope="col">Status</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <RunRow key={r.id} run={r} zone={zone} fresh={fresh.has(r.id)} selected={view.run === r.id} onOpen={onOpen} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {runs.hasNextPage && (
        <div className="row">
          <button type="button" className="btn" disabled={runs.isFetchingNextPage} onClick={() => void runs.fetchNextPage()}>
            {runs.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </article>
  );
}

function RunRow({ run, zone, fresh, selected, onOpen }: {
  run: Run;
  zone: string;
  fresh: boolean;
  selected: boolean;
  onOpen: (id: string) => void;
}) {
  const at = run.started_at ?? run.queued_at ?? run.created_at;
  return (
    <tr
      className={`clickable${fresh ? " fresh" : ""}`}
      tabIndex={0}
      aria-selected={selected}
      data-run-id={run.id}
      onClick={() => onOpen(run.id)}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onOpen(run.id);
        }
      }}
    >
      <td title={formatTime(at, zone, "full")}>{formatTime(at, zone)}</td>
      <td className="truncate" title={run.repo}>{run.repo}</td>
      <td className="truncate" title={run.workflow}>{run.workflow}</td>
      <td className="truncate" title={run.branch ?? ""}>{run.branch ?? "—"}</td>
      <td>{formatDuration(run.duration_seconds)}</td>
      <td><StatusBadge status={run.status} /></td>
      <td>
        <div className="row">
          {run.url && (
            <a className="btn small ghost" href={run.url} target="_blank" rel="noopener noreferrer" onClick={(e) => e.stopPropagation()}
              aria-label={`Open run ${run.id} in CI`}>
              Open in CI ↗
            </a>
          )}
          <button type="button" className="btn small ghost" aria-label={`View raw payload of run ${run.id}`}
            onClick={(e) => { e.stopPropagation(); onOpen(run.id); }}>
            Raw
          </button>
        </div>
      </td>
    </tr>
  );
}
