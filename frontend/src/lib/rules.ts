// Alert rule specs (the AlertRule custom resource's spec, typed from the OpenAPI document):
// a one-line description for lists, a starting point for each condition type, and the checks the
// backend makes (crds/src/alert_rule.rs, backend/src/alerting/rules.rs), made before saving.
import type { components } from "../api/schema";

export type RuleSpec = components["schemas"]["AlertRuleSpec"];
export type Condition = RuleSpec["condition"];
export type ConditionType = Condition["type"];
/** One test, as a `TestFailureRate` condition names it. */
export type RuleTest = NonNullable<Extract<Condition, { type: "TestFailureRate" }>["test"]>;
/** A field's problem, named as the API names it (`spec.condition.window`). */
export type FieldProblem = components["schemas"]["FieldError"];

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
  { type: "FlakyTest", label: "Tests: a test starts flaking" },
  { type: "TestFailureRate", label: "Tests: failure rate over a window" },
  { type: "DeploymentFailed", label: "Deployments: a production deployment failed" },
  { type: "ChangeFailureRate", label: "Deployments: change failure rate over a window" },
  { type: "LeadTime", label: "Deployments: lead time for changes above a limit" },
];

/** The condition types that watch one runner label set. */
export const RUNNER_CONDITIONS: readonly ConditionType[] = ["JobQueueTime", "QueuedJobs"];
/** The condition types that watch one job (repo, workflow and job name). */
export const JOB_CONDITIONS: readonly ConditionType[] = ["JobFailureRate", "JobDuration"];

/** The condition types that watch tests (their JUnit reports): one incident per test and repository. */
export const TEST_CONDITIONS: readonly ConditionType[] = ["FlakyTest", "TestFailureRate"];

/** The condition types that watch production deployments: one incident per service (a glob chooses them). */
export const DELIVERY_CONDITIONS: readonly ConditionType[] = ["DeploymentFailed", "ChangeFailureRate", "LeadTime"];

/** A delivery condition (one of DELIVERY_CONDITIONS), with the service glob they all take. */
export type DeliveryCondition = Extract<Condition, { type: "DeploymentFailed" | "ChangeFailureRate" | "LeadTime" }>;

export function isDeliveryCondition(c: Condition): c is DeliveryCondition {
  return DELIVERY_CONDITIONS.includes(c.type);
}

/**
 * Whether a condition watches one runner label set or one job rather than groups of runs: then the
 * rule's `match` must stay empty (the backend refuses it otherwise).
 */
export function isJobCondition(type: ConditionType): boolean {
  return RUNNER_CONDITIONS.includes(type) || JOB_CONDITIONS.includes(type);
}

/**
 * Which parts of the rule's `match` apply to its condition: all of them (groups of runs, and the
 * runs a test flaked in), only the repository (each test matching a `TestFailureRate` glob: test
 * figures are kept per repository and day), or none (what the condition names: a runner label set, a
 * job, one test, the production deployments of services).
 */
export type MatchScope = "all" | "repo" | "none";

export function matchScope(c: Condition): MatchScope {
  if (isJobCondition(c.type) || isDeliveryCondition(c)) return "none";
  if (c.type === "TestFailureRate") return c.test ? "none" : "repo";
  return "all";
}

/** The rule's `match` narrowed to what applies to its condition (what no longer applies is cleared). */
export function scopedMatch(match: RuleSpec["match"], scope: MatchScope): RuleSpec["match"] {
  if (scope === "all") return match;
  return { repo: scope === "repo" ? (match.repo ?? null) : null, workflows: [], branches: [] };
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

/** "acme/api · tests.test_api::test_login (suite pytest)". */
export function testName(t: RuleTest): string {
  const name = t.classname ? `${t.classname}::${t.name}` : t.name;
  return `${t.repo} · ${name}${t.suite ? ` (suite ${t.suite})` : ""}`;
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
    case "FlakyTest":
      return { type, window: "7d" };
    case "TestFailureRate":
      return { type, testMatch: "*", threshold: 20, window: "7d", minRuns: 5 };
    case "DeploymentFailed":
      return { type };
    case "ChangeFailureRate":
      return { type, threshold: 15, window: "7d", minDeployments: 5 };
    case "LeadTime":
      return { type, stat: "p95", threshold: "2d", window: "7d" };
  }
}

/** "the services matching api-*", or "every service": which services a delivery condition watches. */
export function servicesWatched(c: DeliveryCondition): string {
  return c.service?.trim() ? `the services matching ${c.service.trim()}` : "every service";
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
    case "FlakyTest":
      return `a test flaked (failed and passed on one commit) within ${c.window}, once per test`;
    case "TestFailureRate": {
      const which = c.test ? testName(c.test) : `each test matching ${c.testMatch ?? ""}`;
      return `failure rate of ${which} ≥ ${c.threshold}% over ${c.window} (at least ${c.minRuns} runs)`;
    }
    case "DeploymentFailed":
      return "a production deployment failed, until the next one succeeds";
    case "ChangeFailureRate":
      return `change failure rate ≥ ${c.threshold}% over ${c.window} (at least ${c.minDeployments} deployments)`;
    case "LeadTime":
      return `${c.stat} lead time for changes > ${c.threshold} over ${c.window}`;
  }
}

/** What a rule watches: its runner pool or job, or the runs its `match` selects. */
export function describeWatched(spec: RuleSpec): string {
  const c = spec.condition;
  if (c.type === "JobQueueTime" || c.type === "QueuedJobs") return `runners ${labelSet(c.labels)}`;
  if (c.type === "JobFailureRate" || c.type === "JobDuration") return `job ${jobName(c.job)}`;
  if (c.type === "TestFailureRate") {
    return c.test ? `test ${testName(c.test)}` : `tests in ${spec.match.repo ?? "every repository"}`;
  }
  if (c.type === "FlakyTest") return `tests of ${describeMatch(spec.match)}`;
  if (isDeliveryCondition(c)) return `production deployments of ${servicesWatched(c)}, one incident per service`;
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

/** A span's seconds (`1h30m` is 5,400), or `null` when it is not one. */
export function spanSeconds(s: string): number | null {
  if (!isSpan(s)) return null;
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
  let total = 0;
  for (const [, n, u] of s.matchAll(/([0-9]+)(s|m|h|d)/g)) total += Number(n) * unit[u!]!;
  return total;
}

const DAY = 86_400;
/** The longest `testMatch`. */
export const MAX_TEST_MATCH = 1000;

/**
 * What is wrong with a glob, as the backend's glob library would say it (its common mistakes: an
 * unclosed `[` or `{`, a `}` never opened, a range backwards, a `\` at the end), or `null`.
 */
export function globProblem(pattern: string): string | null {
  const p = [...pattern.trim()];
  let depth = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") {
      if (i + 1 >= p.length) return "dangling '\\'";
      i++;
    } else if (c === "[") {
      let j = i + 1;
      if (p[j] === "!" || p[j] === "^") j++;
      // A `]` first in the class is one of its characters.
      if (p[j] === "]") j++;
      let closed = false;
      for (; j < p.length; j++) {
        if (p[j] === "]") {
          closed = true;
          break;
        }
        if (p[j + 1] === "-" && p[j + 2] !== undefined && p[j + 2] !== "]" && p[j + 2]! < p[j]!) {
          return "invalid character range";
        }
      }
      if (!closed) return "unclosed character class; missing ']'";
      i = j;
    } else if (c === "{") {
      depth++;
    } else if (c === "}") {
      if (depth === 0) return "unopened alternate group; missing '{' (maybe escape '}' with '[}]'?)";
      depth--;
    }
  }
  return depth > 0 ? "unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)" : null;
}

/**
 * The problems the backend would find in a rule, field by field and named as it names them, so the
 * form can say so before saving (the integrations' existence is left to the backend).
 */
export function ruleProblems(name: string, spec: RuleSpec): FieldProblem[] {
  const out: FieldProblem[] = [];
  const add = (field: string, message: string) => out.push({ field, message });
  const trimmed = name.trim();
  if (!trimmed || [...name].length > 253) add("name", "must be 1 to 253 characters");
  const c = spec.condition;
  const condition = (field: string, message: string) => add(`spec.condition.${field}`, message);
  const percentage = (threshold: number) => {
    if (!(Number.isFinite(threshold) && threshold > 0 && threshold <= 100)) {
      condition("threshold", "must be a percentage above 0 and at most 100");
    }
  };
  const spans: [string, string][] = [];
  switch (c.type) {
    case "ConsecutiveFailures":
      if (!(c.threshold >= 1)) condition("threshold", "must be at least 1");
      break;
    case "FailureRate":
    case "JobFailureRate":
      percentage(c.threshold);
      break;
    case "ChangeFailureRate":
      percentage(c.threshold);
      if (!(Number.isInteger(c.minDeployments) && c.minDeployments >= 0)) {
        condition("minDeployments", "must be a whole number of at least 0");
      }
      break;
    case "TestFailureRate":
      percentage(c.threshold);
      if (c.test && c.testMatch != null) {
        condition("testMatch", "give either test (one test) or testMatch (a glob), not both");
      } else if (c.test) {
        for (const key of ["repo", "name"] as const) {
          if (!c.test[key].trim()) condition(`test.${key}`, "must not be empty: a test is named by its repo and name");
        }
      } else if (c.testMatch == null) {
        condition("test", "give test (one test: repo and name) or testMatch (a glob on classname::name)");
      } else if (!c.testMatch.trim()) {
        condition("testMatch", "must not be empty (* matches every test)");
      } else if ([...c.testMatch].length > MAX_TEST_MATCH) {
        condition("testMatch", `must be at most ${MAX_TEST_MATCH} characters`);
      } else {
        const problem = globProblem(c.testMatch);
        if (problem) condition("testMatch", `${JSON.stringify(c.testMatch)} is not a valid glob: ${problem}`);
      }
      break;
    case "DurationRegression":
      if (!(Number.isFinite(c.percent) && c.percent > 0)) condition("percent", "must be above 0");
      break;
    case "QueuedJobs":
      if (!(c.threshold >= 1)) condition("threshold", "must be at least 1");
      break;
  }
  if ((c.type === "JobQueueTime" || c.type === "QueuedJobs") && splitList(c.labels.join(",")).length === 0) {
    condition("labels", "must name the runner label set, e.g. [self-hosted, gpu]");
  }
  if (isDeliveryCondition(c) && c.service != null) {
    const glob = c.service;
    if (!glob.trim() || [...glob].length > 255) {
      condition("service", "must be a service name or glob of 1 to 255 characters (leave it out for every service)");
    } else {
      const problem = globProblem(glob);
      if (problem) condition("service", `${JSON.stringify(glob)} is not a valid glob: ${problem}`);
    }
  }
  if (c.type === "JobFailureRate" || c.type === "JobDuration") {
    for (const key of ["repo", "workflow", "name"] as const) {
      if (!c.job[key].trim())
        condition(`job.${key}`, "must not be empty: a job is named by its repo, workflow and name");
    }
  }
  // Every span, in the order the form shows them; then the ranges the backend allows.
  if ("threshold" in c && typeof c.threshold === "string") spans.push(["threshold", c.threshold]);
  if ("for" in c) spans.push(["for", c.for]);
  if ("window" in c) spans.push(["window", c.window]);
  if ("baselineWindow" in c) spans.push(["baselineWindow", c.baselineWindow]);
  for (const [field, value] of spans) {
    const secs = spanSeconds(value);
    if (secs === null) {
      condition(field, `${JSON.stringify(value)} is not a duration like 30s, 5m, 4h or 7d`);
    } else if (field === "for") {
      if (secs > DAY) condition(field, "must be at most 1d");
    } else if ((field === "window" || field === "baselineWindow") && !isDeliveryCondition(c)) {
      // The delivery conditions' windows are any span (the production deployments that ended within it).
      if (c.type === "TestFailureRate") {
        if (secs < DAY || secs > 90 * DAY)
          condition(field, "must be between 1d and 90d (tests are counted by UTC day)");
      } else if (secs < 60 || secs > 90 * DAY) {
        condition(field, "must be between 1m and 90d");
      }
    }
  }
  const m = spec.match;
  const selects = m.provider != null || m.repo != null || !!m.workflows?.length || !!m.branches?.length;
  if (isJobCondition(c.type) && selects) {
    add("spec.match", `must be empty for ${c.type}: it watches the runner label set or the job named in the condition`);
  } else if (isDeliveryCondition(c) && selects) {
    add(
      "spec.match",
      `must be empty for ${c.type}: it watches production deployments, by the condition's service glob`,
    );
  } else if (c.type === "TestFailureRate" && c.test && selects) {
    add("spec.match", "must be empty for TestFailureRate with test: it watches the test named in the condition");
  } else if (c.type === "TestFailureRate" && !c.test) {
    const only =
      "does not apply to TestFailureRate: test failure rates are counted per repository and day (only match.repo selects)";
    if (m.provider != null) add("spec.match.provider", only);
    if (m.workflows?.length) add("spec.match.workflows", only);
    if (m.branches?.length) add("spec.match.branches", only);
  }
  const n = spec.notify;
  const wait = spanSeconds(n.groupWait);
  if (wait === null) add("spec.notify.groupWait", `${JSON.stringify(n.groupWait)} is not a duration like 30s or 5m`);
  else if (wait > DAY) add("spec.notify.groupWait", "must be at most 1d");
  const repeat = spanSeconds(n.repeatInterval);
  if (repeat === null) {
    add("spec.notify.repeatInterval", `${JSON.stringify(n.repeatInterval)} is not a duration like 30m or 4h`);
  } else if (repeat < 60) add("spec.notify.repeatInterval", "must be at least 1m");
  return out;
}
