// A test's results as a strip of cells, oldest left to newest right: a cell's colour and glyph give
// its status (the legend says which), a mark above it a commit the test flaked on, and its label all
// of that in words. A cell opens its run. The strip is one tab stop: the arrow keys, Home and End
// move along it.
import { useRef, useState, type KeyboardEvent } from "react";
import type { Schemas } from "../api/client";
import { formatTime } from "../lib/format";
import { useZone } from "../lib/prefs";
import { historyLabel, oldestFirst, TEST_STATUS_ORDER, TEST_STATUSES } from "../lib/tests";

type HistoryEntry = Schemas["HistoryEntry"];

const MOVES: Record<string, (i: number, last: number) => number> = {
  ArrowLeft: (i) => Math.max(0, i - 1),
  ArrowRight: (i, last) => Math.min(last, i + 1),
  Home: () => 0,
  End: (_i, last) => last,
};

export function HistoryStrip({
  results,
  name,
  onOpenRun,
}: {
  /** Newest first, as the API answers. */
  results: readonly HistoryEntry[];
  /** The test's name, for the strip's label. */
  name: string;
  onOpenRun: (run: string) => void;
}) {
  const zone = useZone();
  const cells = oldestFirst(results);
  const last = cells.length - 1;
  // The cell that takes focus when the strip is tabbed to: the newest until another was moved to.
  const [active, setActive] = useState<number | null>(null);
  const current = Math.min(active ?? last, last);
  const list = useRef<HTMLOListElement>(null);

  const onKeyDown = (e: KeyboardEvent<HTMLOListElement>) => {
    const move = MOVES[e.key];
    if (!move) return;
    e.preventDefault();
    const next = move(current, last);
    setActive(next);
    list.current?.querySelectorAll<HTMLButtonElement>("button")[next]?.focus();
  };

  if (cells.length === 0) return null;
  return (
    <div className="history">
      <ol
        ref={list}
        className="history-strip"
        aria-label={`Results of ${name}, oldest first`}
        data-testid="history-strip"
        onKeyDown={onKeyDown}
      >
        {cells.map((r, i) => {
          const label = historyLabel(r, formatTime(r.run_at, zone, "full"));
          return (
            <li key={`${r.run_id}|${r.job}|${i}`}>
              <button
                type="button"
                className={`history-cell ${r.status}${r.flaky_commit ? " flaky-commit" : ""}`}
                tabIndex={i === current ? 0 : -1}
                data-status={r.status}
                data-run-id={r.run_id}
                aria-label={`${label}. Open run ${r.run_id}`}
                title={label}
                onFocus={() => setActive(i)}
                onClick={() => onOpenRun(r.run_id)}
              >
                <span aria-hidden="true">{TEST_STATUSES[r.status].glyph}</span>
              </button>
            </li>
          );
        })}
      </ol>
      <div className="row history-ends muted small" aria-hidden="true">
        <span>{formatTime(cells[0]!.run_at, zone)}</span>
        <span className="spacer" />
        <span>{formatTime(cells[last]!.run_at, zone)}</span>
      </div>
      <ul className="history-legend small muted" aria-label="Legend">
        {TEST_STATUS_ORDER.map((s) => (
          <li key={s}>
            <span className={`history-cell key ${s}`} aria-hidden="true">
              {TEST_STATUSES[s].glyph}
            </span>{" "}
            {TEST_STATUSES[s].label}
          </li>
        ))}
        <li>
          <span className="history-cell key flaky-commit" aria-hidden="true" /> marked: flaky on that commit
        </li>
      </ul>
    </div>
  );
}
