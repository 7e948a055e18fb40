// The side panel of one run: every field, jobs with their steps, attempts, and the raw payload.
import { useEffect, useRef } from "react";
import { useRun } from "../api/hooks";
import { formatDuration, formatTime } from "../lib/format";
import { useZone } from "../lib/prefs";
import { CopyButton, ErrorBox, Skeleton, StatusBadge } from "./common";

export function RunPanel({ id, onClose, onOpen }: { id: string; onClose: () => void; onOpen: (id: string) => void }) {
  const zone = useZone();
  const run = useRun(id);
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    closeRef.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      previous?.focus?.();
    };
  }, [onClose]);

  const r = run.data;
  const raw = r?.metadata != null ? JSON.stringify(r.metadata, null, 2) : null;
  const time = (v: string | null | undefined) => formatTime(v, zone, "full");
  return (
    <>
      <div className="panel-backdrop" onClick={onClose} aria-hidden="true" />
      <aside className="panel" role="dialog" aria-modal="true" aria-labelledby="panel-title">
        <div className="row">
          <h2 id="panel-title">Run {id}</h2>
          <span className="spacer" />
          {r?.url && (
            <a className="btn small" href={r.url} target="_blank" rel="noopener noreferrer">Open in CI ↗</a>
          )}
          <button ref={closeRef} type="button" className="btn small" onClick={onClose} aria-label="Close run details">
            ✕
          </button>
        </div>
        {run.isPending ? (
          <Skeleton lines={8} />
        ) : run.isError ? (
          <ErrorBox error={run.error} retry={() => void run.refetch()} />
        ) : r ? (
          <>
            <dl className="fields">
              <dt>Status</dt><dd><StatusBadge status={r.status} /></dd>
              <dt>Repository</dt><dd>{r.repo}</dd>
              <dt>Workflow</dt><dd>{r.workflow}</dd>
              <dt>Branch</dt><dd>{r.branch ?? "—"}</dd>
              <dt>Commit</dt><dd className="mono">{r.commit_sha ?? "—"}</dd>
              <dt>Provider</dt><dd>{r.provider}</dd>
              <dt>Attempt</dt><dd>{r.attempt}</dd>
              <dt>Triggered by</dt><dd>{r.triggered_by ?? "—"}</dd>
              <dt>Queued</dt><dd>{time(r.queued_at)}</dd>
              <dt>Started</dt><dd>{time(r.started_at)}</dd>
              <dt>Finished</dt><dd>{time(r.finished_at)}</dd>
              <dt>Duration</dt><dd>{formatDuration(r.duration_seconds)}</dd>
              <dt>Queue time</dt><dd>{formatDuration(r.queue_seconds)}</dd>
              <dt>Recorded</dt><dd>{time(r.created_at)}</dd>
              <dt>Updated</dt><dd>{time(r.updated_at)}</dd>
            </dl>
            {r.attempts.length > 1 && (
              <section aria-label="Attempts">
                <h3>Attempts</h3>
                <ol className="jobs">
                  {r.attempts.map((a) => (
                    <li key={a.id} className="row">
                      <span>#{a.attempt}</span>
                      <StatusBadge status={a.status} />
                      <span>{formatDuration(a.duration_seconds)}</span>
                      <span className="muted">{formatTime(a.started_at, zone)}</span>
                      <span className="spacer" />
                      {a.id !== r.id && (
                        <button type="button" className="btn small" onClick={() => onOpen(a.id)}>Show</button>
                      )}
                    </li>
                  ))}
                </ol>
              </section>
            )}
            <section aria-label="Jobs">
              <h3>Jobs</h3>
              {r.jobs.length === 0 ? (
                <p className="muted">The provider sent no jobs for this run.</p>
              ) : (
                <ul className="jobs">
                  {r.jobs.map((j) => (
                    <li key={j.id}>
                      <div className="row">
                        <strong>{j.name}</strong>
                        <StatusBadge status={j.status} />
                        <span>{formatDuration(j.duration_seconds)}</span>
                        {j.queue_seconds != null && <span className="muted">queued {formatDuration(j.queue_seconds)}</span>}
                        {j.runner_name && <span className="pill">{j.runner_name}</span>}
                      </div>
                      {j.failure_reason && <div className="field-error">{j.failure_reason}</div>}
                      {j.steps.length > 0 && (
                        <ol className="steps">
                          {j.steps.map((s, i) => (
                            <li key={`${s.number ?? i}-${s.name}`} className="row">
                              <StatusBadge status={s.status} /> {s.name}
                            </li>
                          ))}
                        </ol>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <details open={false} data-testid="raw-json">
              <summary>Raw payload</summary>
              {raw ? (
                <>
                  <div className="row">
                    <span className="spacer" />
                    <CopyButton text={raw} label="Copy JSON" />
                  </div>
                  <pre className="json">{raw}</pre>
                </>
              ) : (
                <p className="muted">No payload was stored with this run.</p>
              )}
            </details>
          </>
        ) : null}
      </aside>
    </>
  );
}
