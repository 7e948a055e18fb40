// Alert rule specs (the AlertRule custom resource's spec, typed from the OpenAPI document):
// a one-line description for lists, and a starting point for each condition type.
import type { components } from "../api/schema";

export type RuleSpec = components["schemas"]["AlertRuleSpec"];
export type Condition = RuleSpec["condition"];
export type ConditionType = Condition["type"];

export const CONDITION_TYPES: { type: ConditionType; label: string }[] = [
  { type: "RunFailed", label: "A run failed" },
  { type: "ConsecutiveFailures", label: "Consecutive failures" },
  { type: "FailureRate", label: "Failure rate over a window" },
  { type: "Duration", label: "Duration above a limit" },
  { type: "DurationRegression", label: "Duration regression vs baseline" },
  { type: "QueueTime", label: "Queue time above a limit" },
  { type: "NoSuccessWithin", label: "No success within a window" },
  { type: "JobQueueTime", label: "Runner pool: queue time above a limit" },
  { type: "QueuedJobs", label: "Runner pool: jobs queued for a while" },
  { type: "JobFailureRate", label: "One job: failure rate over a window" },
  { type: "JobDuration", label: "One job: duration above a limit" },
];

/** The condition types that watch one runner label set. */
export const RUNNER_CONDITIONS: readonly ConditionType[] = ["JobQueueTime", "QueuedJobs"];
/** The condition types that watch one job (repo, workflow and job name). */
export const JOB_CONDITIONS: readonly ConditionType[] = ["JobFailureRate", "JobDuration"];

/**
 * Whether a condition watches one runner label set or one job rather than groups of runs: then the
 * rule's `match` must stay empty (the backend refuses it otherwise).
 */
export function isJobCondition(type: ConditionType): boolean {
  return RUNNER_CONDITIONS.includes(type) || JOB_CONDITIONS.includes(type);
}

/** A label set as the runners view shows it: "[gpu, self-hosted]" (trimmed, lower case, sorted). */
export function labelSet(labels: string[]): string {
  const set = [...new Set(splitList(labels.join(",")).map((l) => l.toLowerCase()))].sort();
  return `[${set.join(", ")}]`;
}

/** "acme/api · ci · test". */
export function jobName(job: { repo: string; workflow: string; name: string }): string {
  return `${job.repo} · ${job.workflow} · ${job.name}`;
}

/** A sensible starting condition of each type (what the form shows when the type changes). */
export function defaultCondition(type: ConditionType): Condition {
  switch (type) {
    case "RunFailed":
      return { type, onlyFirst: true };
    case "ConsecutiveFailures":
      return { type, threshold: 3 };
    case "FailureRate":
      return { type, threshold: 25, window: "1h", minRuns: 5 };
    case "Duration":
      return { type, stat: "p95", threshold: "15m", window: "1h" };
    case "DurationRegression":
      return { type, percent: 50, window: "1d", baselineWindow: "7d" };
    case "QueueTime":
      return { type, stat: "p95", threshold: "5m", window: "1h" };
    case "NoSuccessWithin":
      return { type, window: "1d" };
    case "JobQueueTime":
      return { type, labels: [], stat: "p95", threshold: "10m", window: "1h" };
    case "QueuedJobs":
      return { type, labels: [], threshold: 5, for: "15m" };
    case "JobFailureRate":
      return { type, job: { repo: "", workflow: "", name: "" }, threshold: 25, window: "1d", minRuns: 5 };
    case "JobDuration":
      return { type, job: { repo: "", workflow: "", name: "" }, stat: "p95", threshold: "15m", window: "6h" };
  }
}

/** "3 consecutive failures", "failure rate ≥ 25% over 1h (at least 5 runs)". */
export function describeCondition(c: Condition): string {
  switch (c.type) {
    case "RunFailed":
      return c.onlyFirst ? "first failure after a success" : "every failed run";
    case "ConsecutiveFailures":
      return `${c.threshold} consecutive failure${c.threshold === 1 ? "" : "s"}`;
    case "FailureRate":
      return `failure rate ≥ ${c.threshold}% over ${c.window} (at least ${c.minRuns} runs)`;
    case "Duration":
      return `${c.stat} duration > ${c.threshold} over ${c.window}`;
    case "DurationRegression":
      return `p95 duration ${c.percent}% above the previous ${c.baselineWindow}, over ${c.window}`;
    case "QueueTime":
      return `${c.stat} queue time > ${c.threshold} over ${c.window}`;
    case "NoSuccessWithin":
      return `no success for ${c.window}`;
    case "JobQueueTime":
      return `${c.stat} queue time of jobs on ${labelSet(c.labels)} > ${c.threshold} over ${c.window}`;
    case "QueuedJobs":
      return `≥ ${c.threshold} job${c.threshold === 1 ? "" : "s"} queued for ${labelSet(c.labels)} for ${c.for}`;
    case "JobFailureRate":
      return `failure rate of ${jobName(c.job)} ≥ ${c.threshold}% over ${c.window} (at least ${c.minRuns} runs)`;
    case "JobDuration":
      return `${c.stat} duration of ${jobName(c.job)} > ${c.threshold} over ${c.window}`;
  }
}

/** What a rule watches: its runner pool or job, or the runs its `match` selects. */
export function describeWatched(spec: RuleSpec): string {
  const c = spec.condition;
  if (c.type === "JobQueueTime" || c.type === "QueuedJobs") return `runners ${labelSet(c.labels)}`;
  if (c.type === "JobFailureRate" || c.type === "JobDuration") return `job ${jobName(c.job)}`;
  return describeMatch(spec.match);
}

/** What the rule watches: "acme/* · ci, deploy · main". */
export function describeMatch(m: RuleSpec["match"]): string {
  const parts = [
    m.provider ?? null,
    m.repo ?? null,
    m.workflows?.length ? m.workflows.join(", ") : null,
    m.branches?.length ? m.branches.join(", ") : null,
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : "all runs";
}

/** The spec of a new rule. */
export function newRuleSpec(): RuleSpec {
  return {
    suspend: false,
    match: { repo: null, workflows: [], branches: [] },
    condition: defaultCondition("ConsecutiveFailures"),
    severity: "warning",
    annotations: { summary: null, runbookUrl: null },
    notify: {
      integrations: [],
      groupBy: ["repo", "workflow", "branch"],
      groupWait: "30s",
      repeatInterval: "4h",
      sendResolved: true,
    },
  };
}

/** "main, release/*" → ["main", "release/*"]. */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

const SPAN = /^([0-9]+(s|m|h|d))+$/;
export const isSpan = (s: string) => SPAN.test(s);
