// Repository, workflow, branch and time range; every change is a new history entry, and what the
// filters show comes from the URL alone (back and forward restore it).
import { useState, type ReactNode } from "react";
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

/** How the custom window's inputs write a time: ISO 8601, the same in every locale. */
const ISO_HINT = "YYYY-MM-DD HH:MM";

/** A datetime-local value (`2026-11-01T09:00`) as the inputs show it (`2026-11-01 09:00`). */
const shown = (value: string) => value.replace("T", " ");

/**
 * The custom window's inputs: wall-clock times in the page's time zone, written in ISO 8601
 * (`2026-11-01 09:00`, or with a `T`) whatever the browser's locale. Their drafts start from the
 * URL's window and start over whenever it changes (back/forward, another zone), so the URL stays the
 * one source of truth.
 */
function CustomRange({ view, onView }: { view: View; onView: (patch: Partial<View>) => void }) {
  const zone = useZone();
  const [from, setFrom] = useState(shown(toZonedInput(view.from, zone)));
  const [to, setTo] = useState(shown(toZonedInput(view.to, zone)));
  const read = (text: string) => fromZonedInput(text.trim().replace(/\s+/, "T"), zone);
  const fromIso = read(from);
  const toIso = read(to);
  const valid = !!fromIso && !!toIso && fromIso < toIso;
  const unchanged = fromIso === view.from && toIso === view.to;
  const zoneName = zone === LOCAL ? `local, ${browserZone()}` : zone;
  const problem =
    !from || !to
      ? null
      : !fromIso || !toIso
        ? `Write times as ${ISO_HINT}.`
        : !valid
          ? "“From” must be before “To”."
          : null;
  const field = (label: string, value: string, set: (v: string) => void) => (
    <label className="field">
      <span>
        {label} <span className="zone-hint">({zoneName})</span>
      </span>
      <input
        type="text"
        inputMode="numeric"
        spellCheck={false}
        placeholder={ISO_HINT}
        title={`ISO 8601: ${ISO_HINT}`}
        value={value}
        onChange={(e) => set(e.target.value)}
      />
    </label>
  );
  return (
    <form
      className="row custom-range"
      aria-label="Custom time range"
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) onView({ range: "custom", from: fromIso, to: toIso, group: undefined });
      }}
    >
      {field("From", from, setFrom)}
      {field("To", to, setTo)}
      <button type="submit" className="btn" disabled={!valid || unchanged}>
        Apply
      </button>
      {problem && (
        <span className="field-error" role="alert">
          {problem}
        </span>
      )}
    </form>
  );
}

type Field = "repo" | "workflow" | "branch";
const ALL_FIELDS: readonly Field[] = ["repo", "workflow", "branch"];

export function Filters({
  view,
  onView,
  fields = ALL_FIELDS,
  children,
}: {
  view: View;
  onView: (patch: Partial<View>) => void;
  /** The selectors a page's data can be filtered by (all three when absent); the time range is always there. */
  fields?: readonly Field[];
  /** A page's own filters, before the time range. */
  children?: ReactNode;
}) {
  const filters = useFilters();
  const zone = useZone();
  const f = filters.data;
  const workflows = [
    ...new Set((f?.workflows ?? []).filter((w) => !view.repo || w.repo === view.repo).map((w) => w.workflow)),
  ].sort();

  const select = (label: string, key: Field, options: string[]) =>
    fields.includes(key) && (
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
      {children}
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
      {(fields.some((key) => view[key]) || (view.page === "dashboard" && view.status)) && (
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
