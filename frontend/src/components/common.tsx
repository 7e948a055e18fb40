// Small pieces used across screens.
import { useEffect, useRef, useState, type ReactNode, type RefObject } from "react";
import type { ApiError, Schemas } from "../api/client";
import { copyText, selectContents } from "../lib/clipboard";
import { formatCount, type Delta } from "../lib/format";
import { TEST_STATUSES, type TestStatus } from "../lib/tests";
import type { RunStatus } from "../lib/url";

const ICONS: Record<RunStatus, ReactNode> = {
  success: <path d="M3 8.5l3 3 7-7" />,
  failure: <path d="M4 4l8 8M12 4l-8 8" />,
  running: <circle cx="8" cy="8" r="5" strokeDasharray="4 3" />,
  queued: <path d="M8 3v5l3 2" />,
  cancelled: <path d="M3.5 12.5l9-9" />,
  skipped: <path d="M4 8h8" />,
};

const TEST_ICONS: Record<TestStatus, ReactNode> = {
  failed: ICONS.failure,
  error: <path d="M8 3v6M8 12.5v.5" />,
  flaky: <path d="M2 9.5l3-4 3 5 3-5 3 4" />,
  skipped: ICONS.skipped,
  passed: ICONS.success,
};

function Badge({ tone, icon, children }: { tone: string; icon: ReactNode; children: ReactNode }) {
  return (
    <span className={`status ${tone}`}>
      <svg
        viewBox="0 0 16 16"
        aria-hidden="true"
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
      >
        {icon}
      </svg>
      {children}
    </span>
  );
}

/** A run status with an icon and its name, so colour is never the only signal. */
export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <Badge tone={status} icon={ICONS[status]}>
      {status}
    </Badge>
  );
}

type DeploymentStatus = Schemas["DeploymentStatus"];

/** The run status whose colour and icon a deployment status takes. */
const DEPLOYMENT_LOOKS: Record<DeploymentStatus, RunStatus> = {
  queued: "queued",
  in_progress: "running",
  success: "success",
  failure: "failure",
  error: "failure",
  inactive: "skipped",
  cancelled: "cancelled",
};

/** A deployment's status, the same way ("in progress" in words). */
export function DeploymentStatusBadge({ status }: { status: DeploymentStatus }) {
  const look = DEPLOYMENT_LOOKS[status];
  return (
    <Badge tone={look} icon={ICONS[look]}>
      {status.replace("_", " ")}
    </Badge>
  );
}

/** A test result's status, the same way (with a count before it when given: "2 failed"). */
export function TestStatusBadge({ status, count }: { status: TestStatus; count?: number }) {
  return (
    <Badge tone={TEST_STATUSES[status].tone} icon={TEST_ICONS[status]}>
      {count !== undefined && `${formatCount(count)} `}
      {TEST_STATUSES[status].label}
    </Badge>
  );
}

/** A column header; when the server's order follows it (highest first), aria-sort says so. */
export function SortHeader({ label, sorted }: { label: string; sorted?: boolean }) {
  return (
    <th scope="col" aria-sort={sorted ? "descending" : undefined}>
      {label}
      {sorted && <span aria-hidden="true"> ▼</span>}
    </th>
  );
}

/** A table row that opens something: a click, Enter or Space selects it; the selected one is marked. */
export function SelectableRow({
  selected,
  onSelect,
  children,
  ...data
}: {
  selected: boolean;
  onSelect: () => void;
  children: ReactNode;
} & { [key: `data-${string}`]: string | number }) {
  return (
    <tr
      className="clickable"
      tabIndex={0}
      aria-current={selected ? "true" : undefined}
      {...data}
      onClick={onSelect}
      onKeyDown={(e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onSelect();
        }
      }}
    >
      {children}
    </tr>
  );
}

/** Previous and next through a list the server pages: "Page 2 of 3 (jobs 26–50 of 60)". */
export function Pager({
  page,
  perPage,
  total,
  noun,
  onPage,
}: {
  page: number;
  perPage: number;
  total: number;
  /** What the list holds, in the plural: "jobs". */
  noun: string;
  /** Goes to a page (`undefined` for the first, which the URL leaves out). */
  onPage: (page: number | undefined) => void;
}) {
  if (total <= perPage) return null;
  const pages = Math.max(1, Math.ceil(total / perPage));
  return (
    <nav className="row pager" aria-label={`Pages of ${noun}`}>
      <button
        type="button"
        className="btn"
        disabled={page <= 1}
        onClick={() => onPage(page - 1 > 1 ? page - 1 : undefined)}
      >
        ← Previous
      </button>
      <span className="muted" aria-live="polite">
        Page {page} of {pages} ({noun} {formatCount((page - 1) * perPage + 1)}–
        {formatCount(Math.min(total, page * perPage))} of {formatCount(total)})
      </span>
      <button type="button" className="btn" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next →
      </button>
    </nav>
  );
}

export function DeltaText({ delta, against }: { delta: Delta; against?: string }) {
  if (!delta.text) return <span className="delta neutral">no data</span>;
  const tone = delta.good == null ? "neutral" : delta.good ? "good" : "bad";
  const arrow = delta.direction === "up" ? "▲" : delta.direction === "down" ? "▼" : "";
  return (
    <span className={`delta ${tone}`} aria-label={delta.label} title={delta.label}>
      {arrow && <span aria-hidden="true">{arrow} </span>}
      {delta.text} <span className="muted">vs {against ?? "previous"}</span>
    </span>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const e = error as Partial<ApiError> | null;
  const message = e?.message ?? "Something went wrong.";
  return (
    <div className="error-box" role="alert">
      {message}
      {e?.details && e.details.length > 0 && (
        <ul>
          {e.details.map((d) => (
            <li key={d.field}>
              <code>{d.field}</code>: {d.message}
            </li>
          ))}
        </ul>
      )}
      {retry && (
        <>
          {" "}
          <button type="button" className="btn small" onClick={retry}>
            Retry
          </button>
        </>
      )}
    </div>
  );
}

export function Skeleton({ lines = 3 }: { lines?: number }) {
  return (
    <div aria-busy="true" aria-label="Loading" className="col">
      {Array.from({ length: lines }, (_, i) => (
        <div key={i} className="skeleton" />
      ))}
    </div>
  );
}

/**
 * Copies text to the clipboard and says so: "Copied", or — when the browser allows neither the
 * Clipboard API nor the older copy command (plain HTTP) — "Select and copy", with `target`'s text
 * selected for the user.
 */
export function CopyButton({
  text,
  label = "Copy",
  target,
}: {
  text: string;
  label?: string;
  target?: RefObject<HTMLElement | null>;
}) {
  const [result, setResult] = useState<"copied" | "manual" | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async (button: HTMLButtonElement) => {
    const ok = await copyText(text, button);
    if (!ok) selectContents(target?.current);
    setResult(ok ? "copied" : "manual");
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setResult(null), ok ? 1500 : 6000);
  };
  return (
    <>
      <button
        type="button"
        className="btn small"
        title={
          result === "manual"
            ? "This browser did not let the page copy: the text is selected, press Ctrl+C (⌘C)"
            : undefined
        }
        onClick={(e) => void copy(e.currentTarget)}
      >
        {result === "copied" ? "Copied" : result === "manual" ? "Select and copy" : label}
      </button>
      <span className="sr-only" role="status">
        {result === "copied"
          ? "Copied to the clipboard"
          : result === "manual"
            ? "Could not copy: the text is selected, press Control C"
            : ""}
      </span>
    </>
  );
}
