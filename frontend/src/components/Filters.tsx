// Repository, workflow, branch and time range; every change is a new history entry, and what the
// filters show comes from the URL alone (back and forward restore it).
import { useState } from "react";
import { useFilters } from "../api/hooks";
import { LOCAL } from "../lib/format";
import { useZone } from "../lib/prefs";
import { windowOf, type Range, type View } from "../lib/url";
import { browserZone, fromZonedInput, toZonedInput } from "../lib/zone";

const RANGES: [Range, string][] = [
  ["24h", "24 h"],
  ["7d", "7 d"],
  ["30d", "30 d"],
  ["custom", "Custom"],
];

/**
 * The custom window's inputs: wall-clock times in the page's time zone. Their drafts start from the
 * URL's window and start over whenever it changes (back/forward, another zone), so the URL stays the
 * one source of truth.
 */
function CustomRange({ view, onView }: { view: View; onView: (patch: Partial<View>) => void }) {
  const zone = useZone();
  const [from, setFrom] = useState(toZonedInput(view.from, zone));
  const [to, setTo] = useState(toZonedInput(view.to, zone));
  const fromIso = fromZonedInput(from, zone);
  const toIso = fromZonedInput(to, zone);
  const valid = !!fromIso && !!toIso && fromIso < toIso;
  const unchanged = fromIso === view.from && toIso === view.to;
  const zoneName = zone === LOCAL ? `local, ${browserZone()}` : zone;
  return (
    <form
      className="row custom-range"
      aria-label="Custom time range"
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) onView({ range: "custom", from: fromIso, to: toIso, group: undefined });
      }}
    >
      <label className="field">
        <span>
          From <span className="zone-hint">({zoneName})</span>
        </span>
        <input type="datetime-local" value={from} max={to || undefined} onChange={(e) => setFrom(e.target.value)} />
      </label>
      <label className="field">
        <span>
          To <span className="zone-hint">({zoneName})</span>
        </span>
        <input type="datetime-local" value={to} min={from || undefined} onChange={(e) => setTo(e.target.value)} />
      </label>
      <button type="submit" className="btn" disabled={!valid || unchanged}>
        Apply
      </button>
      {from && to && !valid && (
        <span className="field-error" role="alert">
          “From” must be before “To”.
        </span>
      )}
    </form>
  );
}

export function Filters({ view, onView }: { view: View; onView: (patch: Partial<View>) => void }) {
  const filters = useFilters();
  const zone = useZone();
  const f = filters.data;
  const workflows = [
    ...new Set((f?.workflows ?? []).filter((w) => !view.repo || w.repo === view.repo).map((w) => w.workflow)),
  ].sort();

  const select = (label: string, key: "repo" | "workflow" | "branch", options: string[]) => (
    <label className="field">
      {label}
      <select
        value={view[key] ?? ""}
        onChange={(e) => onView({ [key]: e.target.value || undefined })}
        aria-label={label}
      >
        <option value="">All</option>
        {view[key] && !options.includes(view[key]) && <option value={view[key]}>{view[key]}</option>}
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <section className="card filters" aria-label="Filters">
      {select("Repository", "repo", f?.repos ?? [])}
      {select("Workflow", "workflow", workflows)}
      {select("Branch", "branch", f?.branches ?? [])}
      <div className="field">
        <span className="muted" id="range-label">
          Time range
        </span>
        <div className="seg" role="group" aria-labelledby="range-label">
          {RANGES.map(([r, label]) => (
            <button
              key={r}
              type="button"
              aria-pressed={view.range === r}
              onClick={() => {
                if (r === view.range) return;
                if (r === "custom") {
                  // Starts from the window on screen; the inputs then adjust it.
                  const w = windowOf(view);
                  onView({ range: "custom", from: w.from.toISOString(), to: w.to.toISOString(), group: undefined });
                } else {
                  onView({ range: r, from: undefined, to: undefined, group: undefined });
                }
              }}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      {view.range === "custom" && <CustomRange key={`${view.from}|${view.to}|${zone}`} view={view} onView={onView} />}
      {(view.repo || view.workflow || view.branch || view.status) && (
        <button
          type="button"
          className="btn ghost"
          onClick={() => onView({ repo: undefined, workflow: undefined, branch: undefined, status: undefined })}
        >
          Clear filters
        </button>
      )}
    </section>
  );
}
