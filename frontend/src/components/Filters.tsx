// Repository, workflow, branch and time range; every change is a new history entry.
import { useState } from "react";
import { useFilters } from "../api/hooks";
import type { Range, View } from "../lib/url";

const RANGES: [Range, string][] = [
  ["24h", "24 h"],
  ["7d", "7 d"],
  ["30d", "30 d"],
  ["custom", "Custom"],
];

/** A datetime-local input's value ("2026-11-27T14:00") for an ISO instant, in the browser's zone. */
function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const off = d.getTimezoneOffset() * 60_000;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
}

export function Filters({ view, onView }: { view: View; onView: (patch: Partial<View>) => void }) {
  const filters = useFilters();
  const [custom, setCustom] = useState(view.range === "custom");
  const [from, setFrom] = useState(toLocalInput(view.from));
  const [to, setTo] = useState(toLocalInput(view.to));
  const f = filters.data;
  const workflows = [...new Set((f?.workflows ?? []).filter((w) => !view.repo || w.repo === view.repo).map((w) => w.workflow))].sort();
  const customValid = from && to && new Date(from) < new Date(to);

  const select = (label: string, key: "repo" | "workflow" | "branch", options: string[]) => (
    <label className="field">
      {label}
      <select
        value={view[key] ?? ""}
        onChange={(e) => onView({ [key]: e.target.value || undefined })}
        aria-label={label}
      >
        <option value="">All</option>
        {view[key] && !options.includes(view[key]!) && <option value={view[key]}>{view[key]}</option>}
        {options.map((o) => (
          <option key={o} value={o}>{o}</option>
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
        <span className="muted" id="range-label">Time range</span>
        <div className="seg" role="group" aria-labelledby="range-label">
          {RANGES.map(([r, label]) => (
            <button
              key={r}
              type="button"
              aria-pressed={r === "custom" ? custom : !custom && view.range === r}
              onClick={() => {
                if (r === "custom") {
                  setCustom(true);
                } else {
                  setCustom(false);
                  onView({ range: r, from: undefined, to: undefined, group: undefined });
                }
              }}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      {custom && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (customValid) {
              onView({ range: "custom", from: new Date(from).toISOString(), to: new Date(to).toISOString(), group: undefined });
            }
          }}
        >
          <label className="field">
            From
            <input type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
          </label>
          <label className="field">
            To
            <input type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
          </label>
          <button type="submit" className="btn" disabled={!customValid}>Apply</button>
        </form>
      )}
      {(view.repo || view.workflow || view.branch || view.status) && (
        <button type="button" className="btn ghost" onClick={() => onView({ repo: undefined, workflow: undefined, branch: undefined, status: undefined })}>
          Clear filters
        </button>
      )}
    </section>
  );
}
