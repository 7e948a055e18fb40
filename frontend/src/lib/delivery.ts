// The delivery view's arithmetic and wording: the four DORA keys as cards (value, band, previous
// period, change), deployments grouped by environment and what marks them, incidents' restore times,
// and the settings' list of production environments. Pure functions, unit-tested without a browser.
import type { Schemas } from "../api/client";
import { delta, formatCount, formatDuration, formatPercent, type Delta } from "./format";

type Dora = Schemas["Dora"];
type Key = Schemas["DoraKey"];
type Deployment = Schemas["Deployment"];
type Incident = Schemas["ProductionIncident"];
export type Band = Schemas["DoraBand"];
export type ChangeFailureCause = Schemas["ChangeFailureCause"];

export const BANDS: Record<Band, string> = { elite: "Elite", high: "High", medium: "Medium", low: "Low" };

/** A key over one period of its series. */
export type DoraPoint = Omit<Schemas["DoraPoint"], "value"> & { value: number | null };

/** A rate of deployments: "140", "12.6", "3.4", "0.14", "0"; "—" when unknown. */
export function formatRate(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "—";
  if (n === 0) return "0";
  const options: Intl.NumberFormatOptions =
    n >= 100 ? { maximumFractionDigits: 0 } : n >= 1 ? { maximumFractionDigits: 1 } : { maximumSignificantDigits: 2 };
  return new Intl.NumberFormat("en-US", options).format(n);
}

export type KeyId = "deployment_frequency" | "lead_time_for_changes" | "change_failure_rate" | "time_to_restore";

/** What the value of each key is, as the charts draw it. */
export type KeyUnit = "count" | "duration" | "percent";

export interface KeyCard {
  id: KeyId;
  label: string;
  /** The value with its unit: "3.4/day", "2h 05m", "12.5%". */
  value: string;
  /** A second figure: deployments per week, or the p95. */
  detail: string | null;
  band: Band | null;
  /** "from 12 deployments". */
  sample: string;
  /** The period before: its value and band, in words. */
  previous: string;
  previousBand: Band | null;
  delta: Delta;
  unit: KeyUnit;
  /** What the key measures, for the label's title. */
  hint: string;
  points: DoraPoint[];
  /** A point's value as the legend and the data table show it. */
  format: (v: number | null) => string;
}

const perDay = (v: number | null | undefined) => (v == null ? "—" : `${formatRate(v)}/day`);
const plural = (n: number, one: string, many: string) => `${formatCount(n)} ${n === 1 ? one : many}`;

interface KeySpec {
  id: KeyId;
  label: string;
  unit: KeyUnit;
  format: (v: number | null | undefined) => string;
  /** Rates change in percentage points; the others relative to the previous value. */
  kind: "rate" | "relative";
  better: "higher" | "lower";
  sample: (n: number) => string;
  detail: (k: Key) => string | null;
  hint: string;
}

const KEYS: KeySpec[] = [
  {
    id: "deployment_frequency",
    label: "Deployment frequency",
    unit: "count",
    format: perDay,
    kind: "relative",
    better: "higher",
    sample: (n) => plural(n, "successful deployment", "successful deployments"),
    detail: (k) => (k.per_week != null ? `${formatRate(k.per_week)}/week` : null),
    hint: "Successful deployments (not removals) per day",
  },
  {
    id: "lead_time_for_changes",
    label: "Lead time for changes",
    unit: "duration",
    format: formatDuration,
    kind: "relative",
    better: "lower",
    sample: (n) => plural(n, "commit", "commits"),
    detail: (k) => (k.p95 != null ? `p95 ${formatDuration(k.p95)}` : null),
    hint: "From each commit (or its merge) to the end of the successful deployment that first shipped it: the median",
  },
  {
    id: "change_failure_rate",
    label: "Change failure rate",
    unit: "percent",
    format: formatPercent,
    kind: "rate",
    better: "lower",
    sample: (n) => plural(n, "deployment", "deployments"),
    detail: () => null,
    hint: "The share of deployments that were failed changes (which causes count is a setting)",
  },
  {
    id: "time_to_restore",
    label: "Time to restore",
    unit: "duration",
    format: formatDuration,
    kind: "relative",
    better: "lower",
    sample: (n) => plural(n, "restoration", "restorations"),
    detail: (k) => (k.p95 != null ? `p95 ${formatDuration(k.p95)}` : null),
    hint: "From a failure (an incident, a failed or rolled-back deployment) to its restoration: the median",
  },
];

/** The four keys of a DORA answer as cards, in the report's order. */
export function keyCards(dora: Dora): KeyCard[] {
  return KEYS.map((spec) => {
    const k = dora[spec.id];
    const value = k.value ?? null;
    const previous = k.previous.value ?? null;
    return {
      id: spec.id,
      label: spec.label,
      value: spec.format(value),
      detail: spec.detail(k),
      band: k.band ?? null,
      sample: value == null ? `no ${spec.sample(0).replace(/^0 /, "")}` : `from ${spec.sample(k.sample)}`,
      previous:
        previous == null
          ? "nothing in the previous period"
          : `${spec.format(previous)} in the previous period${k.previous.band ? ` (${BANDS[k.previous.band].toLowerCase()})` : ""}`,
      previousBand: k.previous.band ?? null,
      delta: delta(value, previous, spec.kind, spec.better),
      unit: spec.unit,
      hint: spec.hint,
      points: k.series.map((p) => ({ ...p, value: p.value ?? null })),
      format: (v) => spec.format(v),
    };
  });
}

/** A deployment that failed (`failure` or `error`). */
export const failed = (d: Pick<Deployment, "status">) => d.status === "failure" || d.status === "error";

/** What marks a deployment in the timeline, in words: "failed", "rollback", "2 incidents". */
export function deploymentMarks(d: Pick<Deployment, "status" | "kind" | "incidents">): string[] {
  const marks: string[] = [];
  if (failed(d)) marks.push("failed");
  if (d.kind === "rollback") marks.push("rollback");
  if (d.kind === "remove") marks.push("removal");
  if (d.incidents.length > 0) marks.push(plural(d.incidents.length, "incident", "incidents"));
  return marks;
}

/** Deployments by environment, each newest first; the environment deployed to last first. */
export function byEnvironment(deployments: readonly Deployment[]): [string, Deployment[]][] {
  const groups = new Map<string, Deployment[]>();
  const newest = [...deployments].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || b.id - a.id);
  for (const d of newest) {
    const list = groups.get(d.environment);
    if (list) list.push(d);
    else groups.set(d.environment, [d]);
  }
  return [...groups];
}

/** Seconds from a deployment's creation to its end; null while it runs. */
export function deploymentSeconds(d: Pick<Deployment, "created_at" | "finished_at">): number | null {
  if (!d.finished_at) return null;
  const s = (Date.parse(d.finished_at) - Date.parse(d.created_at)) / 1000;
  return Number.isFinite(s) && s >= 0 ? s : null;
}

/** The longest lead time of the commits a deployment shipped (they come longest first). */
export function longestLead(d: Pick<Deployment, "commits">): number | null {
  let longest: number | null = null;
  for (const c of d.commits)
    if (c.lead_seconds != null && (longest == null || c.lead_seconds > longest)) longest = c.lead_seconds;
  return longest;
}

/** Seconds from an incident's start to its resolution; null while it is open. */
export function restoreSeconds(i: Pick<Incident, "started_at" | "resolved_at">): number | null {
  if (!i.resolved_at) return null;
  const s = (Date.parse(i.resolved_at) - Date.parse(i.started_at)) / 1000;
  return Number.isFinite(s) && s >= 0 ? s : null;
}

/** How an incident is linked to its deployment, in words. */
export function incidentLink(link: string | null | undefined): string | null {
  if (link === "named") return "named";
  if (link === "inferred") return "inferred";
  return link ?? null;
}

/** "9fceb02": a commit's first seven characters. */
export const shortSha = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : "—");

/** The change failure causes, as the settings offer them. */
export const CAUSES: [ChangeFailureCause, string, string][] = [
  ["failed_deployment", "Failed deployments", "a production deployment that ends in failure or error"],
  ["rollback", "Rollbacks", "a deployment the next deployment of its service to its environment rolled back"],
  ["incident", "Incidents", "a deployment an incident is linked to (named, or inferred as its service's last)"],
];

/** The production environments as the settings form writes them: one per line, or commas. */
export function environmentsText(list: readonly string[] | undefined): string {
  return (list ?? []).join("\n");
}

/** Splits the settings form's text into names or globs, blank ones left out and repeats once. */
export function parseEnvironments(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const part of text.split(/[\n,]/)) {
    const name = part.trim();
    if (!name || seen.has(name.toLowerCase())) continue;
    seen.add(name.toLowerCase());
    out.push(name);
  }
  return out;
}

/** What is wrong with the production environments, as the backend would say it, or null. */
export function environmentsProblem(list: readonly string[]): string | null {
  if (list.length === 0) return "Name at least one production environment.";
  if (list.length > 100) return "At most 100 production environments.";
  const long = list.find((e) => [...e].length > 255);
  if (long) return `“${long.slice(0, 20)}…” is longer than 255 characters.`;
  return null;
}
