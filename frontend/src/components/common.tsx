// Small pieces used across screens.
import { useEffect, useRef, useState, type ReactNode, type RefObject } from "react";
import type { ApiError } from "../api/client";
import { copyText, selectContents } from "../lib/clipboard";
import type { Delta } from "../lib/format";
import type { RunStatus } from "../lib/url";

const ICONS: Record<RunStatus, ReactNode> = {
  success: <path d="M3 8.5l3 3 7-7" />,
  failure: <path d="M4 4l8 8M12 4l-8 8" />,
  running: <circle cx="8" cy="8" r="5" strokeDasharray="4 3" />,
  queued: <path d="M8 3v5l3 2" />,
  cancelled: <path d="M3.5 12.5l9-9" />,
  skipped: <path d="M4 8h8" />,
};

/** A run status with an icon and its name, so colour is never the only signal. */
export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span className={`status ${status}`}>
      <svg
        viewBox="0 0 16 16"
        aria-hidden="true"
        fill="none"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
      >
        {ICONS[status]}
      </svg>
      {status}
    </span>
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
