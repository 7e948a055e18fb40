// The side panel of one run: every field of the run, its jobs and their steps, its attempts, the
// timeline of its jobs (beside those of its other attempts), the whole record and the raw payload;
// and, when test reports were uploaded for it, its test results in a tab of their own.
// A modal: the page behind it is inert, Escape closes it, and focus goes back to the run's row. The
// field lists are typed against the generated schema, so a field the API gains fails the type check
// until the panel shows it.
import { useRef, useState, type KeyboardEvent as ReactKeyboardEvent, type ReactNode } from "react";
import { createPortal } from "react-dom";
import type { RunDetail, Schemas } from "../api/client";
import { useRun } from "../api/hooks";
import { useRunTests } from "../api/tests";
import { formatCount, formatDuration, formatTime, type TimeZone } from "../lib/format";
import { useSidePanel } from "../lib/inert";
import { useZone } from "../lib/prefs";
import type { TestRef } from "../lib/url";
import { CopyButton, ErrorBox, Skeleton, StatusBadge } from "./common";
import { RunTests } from "./RunTests";
import { Timeline } from "./Timeline";

export type RunTab = "run" | "tests";

type Run = Schemas["Run"];
type Job = Schemas["Job"];
type Step = Schemas["Step"];

interface Field<T> {
  label: string;
  show: (v: T, zone: TimeZone) => ReactNode;
}

const none = "—";
const text = (v: string | number | null | undefined) => (v == null || v === "" ? none : String(v));
const full = (v: string | null | undefined, zone: TimeZone) => formatTime(v, zone, "full");
const clock = (v: string | null | undefined, zone: TimeZone) =>
  v ? (
    <time dateTime={v} title={formatTime(v, zone, "full")}>
      {formatTime(v, zone, "time")}
    </time>
  ) : (
    none
  );
const link = (url: string | null | undefined) =>
  url ? (
    <a href={url} target="_blank" rel="noopener noreferrer">
      {url}
    </a>
  ) : (
    none
  );
const elapsed = (from: string | null | undefined, to: string | null | undefined) =>
  from && to ? formatDuration((Date.parse(to) - Date.parse(from)) / 1000) : none;

/** Every field of a run, in the order shown (`metadata` has its own block). */
const RUN_FIELDS: Record<Exclude<keyof Run, "metadata">, Field<Run>> = {
  status: { label: "Status", show: (r) => <StatusBadge status={r.status} /> },
  repo: { label: "Repository", show: (r) => r.repo },
  workflow: { label: "Workflow", show: (r) => r.workflow },
  branch: { label: "Branch", show: (r) => text(r.branch) },
  commit_sha: { label: "Commit", show: (r) => <span className="mono">{text(r.commit_sha)}</span> },
  provider: { label: "Provider", show: (r) => r.provider },
  triggered_by: { label: "Triggered by", show: (r) => text(r.triggered_by) },
  attempt: { label: "Attempt", show: (r) => r.attempt },
  run_key: { label: "Run key", show: (r) => <span className="mono">{text(r.run_key)}</span> },
  id: { label: "Run id", show: (r) => <span className="mono">{r.id}</span> },
  queued_at: { label: "Queued", show: (r, z) => full(r.queued_at, z) },
  started_at: { label: "Started", show: (r, z) => full(r.started_at, z) },
  finished_at: { label: "Finished", show: (r, z) => full(r.finished_at, z) },
  queue_seconds: { label: "Queue time", show: (r) => formatDuration(r.queue_seconds) },
  duration_seconds: { label: "Duration", show: (r) => formatDuration(r.duration_seconds) },
  created_at: { label: "Recorded", show: (r, z) => full(r.created_at, z) },
  updated_at: { label: "Updated", show: (r, z) => full(r.updated_at, z) },
  url: { label: "URL", show: (r) => link(r.url) },
};

/** Every field of a job besides those in its heading (name, status, duration, URL, failure reason) and its steps. */
const JOB_FIELDS: Record<
  Exclude<keyof Job, "name" | "status" | "duration_seconds" | "url" | "failure_reason" | "steps">,
  Field<Job>
> = {
  stage: { label: "Stage", show: (j) => text(j.stage) },
  runner_name: { label: "Runner", show: (j) => text(j.runner_name) },
  runner_group: { label: "Runner group", show: (j) => text(j.runner_group) },
  labels: {
    label: "Labels",
    show: (j) =>
      j.labels.length ? (
        <span className="row">
          {j.labels.map((l) => (
            <span key={l} className="pill">
              {l}
            </span>
          ))}
        </span>
      ) : (
        none
      ),
  },
  queued_at: { label: "Queued", show: (j, z) => clock(j.queued_at, z) },
  started_at: { label: "Started", show: (j, z) => clock(j.started_at, z) },
  finished_at: { label: "Finished", show: (j, z) => clock(j.finished_at, z) },
  queue_seconds: { label: "Queue time", show: (j) => formatDuration(j.queue_seconds) },
  updated_at: { label: "Updated", show: (j, z) => clock(j.updated_at, z) },
  id: { label: "Job id", show: (j) => <span className="mono">{j.id}</span> },
};

/** A step's columns: every field, and its duration. */
const STEP_FIELDS: Record<keyof Step, Field<Step>> = {
  number: { label: "#", show: (s) => text(s.number) },
  status: { label: "Status", show: (s) => <StatusBadge status={s.status} /> },
  name: { label: "Step", show: (s) => s.name },
  started_at: { label: "Started", show: (s, z) => clock(s.started_at, z) },
  finished_at: { label: "Finished", show: (s, z) => clock(s.finished_at, z) },
};

function Fields<T>({
  fields,
  value,
  zone,
  className = "fields",
}: {
  fields: Record<string, Field<T>>;
  value: T;
  zone: TimeZone;
  className?: string;
}) {
  return (
    <dl className={className}>
      {Object.entries(fields).map(([key, f]) => (
        <div key={key} className="field-row" data-field={key}>
          <dt>{f.label}</dt>
          <dd>{f.show(value, zone)}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Runs the webhook receivers record keep the provider's payload as metadata; the others, the
 * generic event's `meta`. */
const WEBHOOK_PROVIDERS = new Set(["github", "gitlab", "jenkins", "cdevents"]);
const MAX_META_FIELDS = 30;

/** A generic event's `meta`, key by key: values as text, objects and arrays as compact JSON. */
function MetaFields({ meta }: { meta: Record<string, unknown> }) {
  const entries = Object.entries(meta);
  return (
    <section aria-labelledby="panel-meta">
      <h3 id="panel-meta">Metadata</h3>
      <dl className="fields" data-testid="meta-fields">
        {entries.slice(0, MAX_META_FIELDS).map(([key, value]) => (
          <div key={key} className="field-row">
            <dt>{key}</dt>
            <dd className={typeof value === "object" && value !== null ? "mono" : undefined}>
              {typeof value === "string" ? value : JSON.stringify(value)}
            </dd>
          </div>
        ))}
      </dl>
      {entries.length > MAX_META_FIELDS && (
        <p className="muted small">and {entries.length - MAX_META_FIELDS} more in the raw payload</p>
      )}
    </section>
  );
}

function JsonBlock({
  title,
  json,
  open,
  onToggle,
  testId,
  empty,
}: {
  title: string;
  json: string | null;
  open: boolean;
  onToggle: (open: boolean) => void;
  testId: string;
  empty: string;
}) {
  const pre = useRef<HTMLPreElement>(null);
  return (
    <details open={open} onToggle={(e) => onToggle(e.currentTarget.open)} data-testid={testId}>
      <summary>{title}</summary>
      {json ? (
        <>
          <div className="row">
            <span className="spacer" />
            <CopyButton text={json} label="Copy JSON" target={pre} />
          </div>
          <pre className="json" ref={pre} tabIndex={0}>
            {json}
          </pre>
        </>
      ) : (
        <p className="muted">{empty}</p>
      )}
    </details>
  );
}

function Jobs({ run, zone }: { run: RunDetail; zone: TimeZone }) {
  if (run.jobs.length === 0) return <p className="muted">The provider sent no jobs for this run.</p>;
  return (
    <ul className="jobs">
      {run.jobs.map((j) => (
        <li key={j.id} data-job-id={j.id}>
          <div className="row">
            <strong>{j.name}</strong>
            <StatusBadge status={j.status} />
            <span>{formatDuration(j.duration_seconds)}</span>
            <span className="spacer" />
            {j.url && (
              <a className="btn small ghost" href={j.url} target="_blank" rel="noopener noreferrer">
                Open job ↗
              </a>
            )}
          </div>
          {j.failure_reason && <div className="field-error">{j.failure_reason}</div>}
          <Fields fields={JOB_FIELDS} value={j} zone={zone} className="fields compact" />
          {j.steps.length > 0 && (
            <table className="grid steps" aria-label={`Steps of ${j.name}`}>
              <thead>
                <tr>
                  {Object.entries(STEP_FIELDS).map(([k, f]) => (
                    <th key={k} scope="col">
                      {f.label}
                    </th>
                  ))}
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {j.steps.map((s, i) => (
                  <tr key={`${s.number ?? i}-${s.name}`}>
                    {Object.entries(STEP_FIELDS).map(([k, f]) => (
                      <td key={k}>{f.show(s, zone)}</td>
                    ))}
                    <td>{elapsed(s.started_at, s.finished_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </li>
      ))}
    </ul>
  );
}

const TABS: [RunTab, string][] = [
  ["run", "Run"],
  ["tests", "Tests"],
];

/**
 * The run's details, and its test results when it has any: then as two tabs (the arrow keys move
 * between them), opening on `initialTab`.
 */
function RunBody({
  id,
  showRaw,
  initialTab,
  onOpen,
  onOpenTest,
}: {
  id: string;
  showRaw: boolean;
  initialTab: RunTab;
  onOpen: (id: string) => void;
  onOpenTest?: (test: TestRef) => void;
}) {
  const run = useRun(id);
  const tests = useRunTests(id);
  const [tab, setTab] = useState(initialTab);
  const tabs = useRef<HTMLDivElement>(null);
  // Both, so that the tabs (when there are test results) do not appear under the reader's eyes.
  if (run.isPending || tests.isPending) return <Skeleton lines={8} />;
  if (run.isError) return <ErrorBox error={run.error} retry={() => void run.refetch()} />;
  const details = <RunDetails run={run.data} showRaw={showRaw} onOpen={onOpen} />;
  // No reports (or not known yet, or not readable): the details alone, as before tests were uploaded.
  if (!tests.data || tests.data.reports === 0) return details;
  const failed = tests.data.summary.failed;
  const onKeyDown = (e: ReactKeyboardEvent<HTMLDivElement>) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    e.preventDefault();
    const next = tab === "run" ? "tests" : "run";
    setTab(next);
    tabs.current?.querySelector<HTMLButtonElement>(`#panel-tab-${next}`)?.focus();
  };
  return (
    <>
      <div className="row tabs" role="tablist" aria-label="Run details" ref={tabs} onKeyDown={onKeyDown}>
        {TABS.map(([t, label]) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`panel-tab-${t}`}
            aria-selected={tab === t}
            aria-controls={`panel-tabpanel-${t}`}
            tabIndex={tab === t ? 0 : -1}
            onClick={() => setTab(t)}
          >
            {label}
            {t === "tests" && failed > 0 && (
              <>
                {" "}
                <span className="pill bad">{formatCount(failed)} failed</span>
              </>
            )}
          </button>
        ))}
      </div>
      <div className="tabpanel" role="tabpanel" id={`panel-tabpanel-${tab}`} aria-labelledby={`panel-tab-${tab}`}>
        {tab === "run" ? details : <RunTests tests={tests.data} repo={run.data.repo} onOpenTest={onOpenTest} />}
      </div>
    </>
  );
}

function RunDetails({ run: r, showRaw, onOpen }: { run: RunDetail; showRaw: boolean; onOpen: (id: string) => void }) {
  const zone = useZone();
  const [rawOpen, setRawOpen] = useState(showRaw);
  const [fullOpen, setFullOpen] = useState(false);
  const raw = r.metadata != null ? JSON.stringify(r.metadata, null, 2) : null;
  const meta =
    r.metadata && typeof r.metadata === "object" && !Array.isArray(r.metadata) && !WEBHOOK_PROVIDERS.has(r.provider)
      ? (r.metadata as Record<string, unknown>)
      : null;
  return (
    <>
      <Fields fields={RUN_FIELDS} value={r} zone={zone} />
      {meta && Object.keys(meta).length > 0 && <MetaFields meta={meta} />}
      {r.attempts.length > 1 && (
        <section aria-labelledby="panel-attempts">
          <h3 id="panel-attempts">Attempts</h3>
          <ol className="jobs">
            {r.attempts.map((a) => (
              <li key={a.id} className="row">
                <span>#{a.attempt}</span>
                <StatusBadge status={a.status} />
                <span>{formatDuration(a.duration_seconds)}</span>
                <span className="muted">
                  {formatTime(a.started_at, zone)} → {formatTime(a.finished_at, zone)}
                </span>
                <span className="spacer" />
                {a.id === r.id ? (
                  <span className="pill">shown</span>
                ) : (
                  <button
                    type="button"
                    className="btn small"
                    onClick={() => onOpen(a.id)}
                    aria-label={`Show attempt ${a.attempt}`}
                  >
                    Show
                  </button>
                )}
              </li>
            ))}
          </ol>
        </section>
      )}
      <Timeline run={r} />
      <section aria-labelledby="panel-jobs">
        <h3 id="panel-jobs">Jobs</h3>
        <Jobs run={r} zone={zone} />
      </section>
      <JsonBlock
        title="Raw payload"
        json={raw}
        open={rawOpen}
        onToggle={setRawOpen}
        testId="raw-json"
        empty="No payload was stored with this run."
      />
      <JsonBlock
        title="Full record"
        json={JSON.stringify(r, null, 2)}
        open={fullOpen}
        onToggle={setFullOpen}
        testId="full-json"
        empty=""
      />
    </>
  );
}

export function RunPanel({
  id,
  showRaw = false,
  initialTab = "run",
  onClose,
  onOpen,
  onOpenTest,
}: {
  id: string;
  /** Open with the raw payload expanded (the table's "Raw" action). */
  showRaw?: boolean;
  /** The tab shown first when the run has test results (the tests view opens on "tests"). */
  initialTab?: RunTab;
  onClose: () => void;
  onOpen: (id: string) => void;
  /** Opens a test's history in the tests view (from the "Tests" tab). */
  onOpenTest?: (test: TestRef) => void;
}) {
  const run = useRun(id);
  const closeRef = useRef<HTMLButtonElement>(null);
  // The run the panel opened with (the table's row that gets focus back), whichever is shown later.
  const [firstId] = useState(id);
  useSidePanel(
    closeRef,
    onClose,
    () =>
      Array.from(document.querySelectorAll<HTMLElement>("tr[data-run-id]")).find(
        (tr) => tr.dataset.runId === firstId,
      ) ?? null,
  );

  const url = run.data?.url;
  // The attempts of a re-run have their timelines side by side: room for two.
  const several = (run.data?.attempts.length ?? 0) > 1;
  return createPortal(
    <div className="panel-layer">
      <div className="panel-backdrop" onClick={onClose} aria-hidden="true" />
      <aside className={several ? "panel wide" : "panel"} role="dialog" aria-modal="true" aria-labelledby="panel-title">
        <div className="row panel-head">
          <h2 id="panel-title">Run {id}</h2>
          <span className="spacer" />
          {url && (
            <a className="btn small" href={url} target="_blank" rel="noopener noreferrer">
              Open in CI ↗
            </a>
          )}
          <button ref={closeRef} type="button" className="btn small" onClick={onClose} aria-label="Close run details">
            ✕
          </button>
        </div>
        <RunBody
          key={id}
          id={id}
          showRaw={showRaw && id === firstId}
          initialTab={initialTab}
          onOpen={onOpen}
          onOpenTest={onOpenTest}
        />
      </aside>
    </div>,
    document.body,
  );
}
