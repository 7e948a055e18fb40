// Everything a view shows is in its URL, so a copied link reproduces it and back/forward work.
// This module turns a location into a `View` and back; `useView` (hooks.ts) binds it to history.

import type { components, paths } from "../api/schema";

export type Range = "24h" | "7d" | "30d" | "custom";
export type Page = "dashboard" | "jobs" | "runners" | "usage" | "tests" | "delivery" | "settings";
// The API's own types (its group_by, sort and status parameters).
export type Grain = components["schemas"]["Grain"];
export type Sort = NonNullable<NonNullable<paths["/api/runs"]["get"]["parameters"]["query"]>["sort"]>;
export type RunStatus = components["schemas"]["RunStatus"];
/** The orders the jobs view offers (the API has `runs` and `name` too). */
export type JobSort = "slowest" | "failing" | "queue" | "minutes";
export type UsageGroup = components["schemas"]["UsageGroup"];
/** The rankings the tests view offers: the flaky tests (`/api/tests/flaky`), or `/api/tests` sorted. */
export type TestRank =
  | "flaky"
  | Extract<NonNullable<NonNullable<paths["/api/tests"]["get"]["parameters"]["query"]>["sort"]>, "failing" | "slowest">;

/** A test in a repository (a test id names the same test in every repository that runs it). */
export interface TestRef {
  id: number;
  repo: string;
}

/** A job: a job name in a repository's workflow. */
export interface JobRef {
  repo: string;
  workflow: string;
  job: string;
}

export interface View {
  page: Page;
  repo?: string;
  workflow?: string;
  branch?: string;
  status?: RunStatus;
  range: Range;
  /** ISO instants, only with range "custom". */
  from?: string;
  to?: string;
  /** Chart grouping; the range's natural grain when absent. */
  group?: Grain;
  /** Time zone: "local" (absent), "UTC" or an IANA name. */
  tz?: string;
  /** The run open in the side panel. */
  run?: string;
  sort: Sort;
  /** Jobs view: the order (`slowest` when absent), the page (1 when absent) and the job whose trend is open. */
  jobSort?: JobSort;
  jobsPage?: number;
  job?: JobRef;
  /** Runners view: the label set whose charts are open, labels joined by commas ("" for jobs that named none). */
  labels?: string;
  /** Usage view: what minutes and cost are grouped by (`repo` when absent). */
  usageBy?: UsageGroup;
  /** Tests view: the ranking (`flaky` when absent), the page (1 when absent), the search and the test whose history is open. */
  testRank?: TestRank;
  testsPage?: number;
  testSearch?: string;
  test?: TestRef;
  /** Delivery view: the service and environment of the keys and deployments (every service, and the
   * production environments, when absent), every environment in the timeline (`all`) rather than
   * the production ones, and the deployment open in the side panel (its id). */
  service?: string;
  environment?: string;
  envs?: "all";
  deployment?: number;
}

const RANGES: readonly Range[] = ["24h", "7d", "30d", "custom"];
const GRAINS: readonly Grain[] = ["hour", "day", "week"];
const SORTS: readonly Sort[] = ["newest", "oldest", "slowest", "fastest"];
const STATUSES: readonly RunStatus[] = ["queued", "running", "success", "failure", "cancelled", "skipped"];
const PAGES: readonly Page[] = ["jobs", "runners", "usage", "tests", "delivery", "settings"];
export const JOB_SORTS: readonly JobSort[] = ["slowest", "failing", "queue", "minutes"];
export const USAGE_GROUPS: readonly UsageGroup[] = ["repo", "workflow", "labels"];
export const TEST_RANKS: readonly TestRank[] = ["flaky", "failing", "slowest"];

export const DEFAULT_RANGE = "7d" satisfies Range;

function oneOf<T extends string>(value: string | null, allowed: readonly T[]): T | undefined {
  return value != null && (allowed as readonly string[]).includes(value) ? (value as T) : undefined;
}

function text(value: string | null): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function instant(value: string | null): string | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** Reads a view from a path and query string; anything unknown or malformed falls back to defaults. */
export function parseView(pathname: string, search: string): View {
  const q = new URLSearchParams(search);
  let range = oneOf(q.get("range"), RANGES) ?? DEFAULT_RANGE;
  let from = instant(q.get("from"));
  let to = instant(q.get("to"));
  if (range === "custom" && (!from || !to || from >= to)) {
    range = DEFAULT_RANGE;
  }
  if (range !== "custom") {
    from = undefined;
    to = undefined;
  }
  const last = pathname.replace(/\/+$/, "").split("/").pop() ?? "";
  const view: View = {
    page: oneOf(last, PAGES) ?? "dashboard",
    range,
    sort: oneOf(q.get("sort"), SORTS) ?? "newest",
  };
  const fields: [keyof View, string | undefined][] = [
    ["repo", text(q.get("repo"))],
    ["workflow", text(q.get("workflow"))],
    ["branch", text(q.get("branch"))],
    ["status", oneOf(q.get("status"), STATUSES)],
    ["from", from],
    ["to", to],
    ["group", oneOf(q.get("group"), GRAINS)],
    ["tz", text(q.get("tz"))],
    ["run", text(q.get("run"))],
  ];
  for (const [key, value] of fields) {
    if (value !== undefined) (view as unknown as Record<string, string>)[key] = value;
  }
  const jobSort = oneOf(q.get("order"), JOB_SORTS);
  if (jobSort && jobSort !== "slowest") view.jobSort = jobSort;
  // `p` is the page of the list the page shows: the jobs', or the tests'.
  const pageNo = Number(q.get("p"));
  if (Number.isInteger(pageNo) && pageNo > 1) view[view.page === "tests" ? "testsPage" : "jobsPage"] = pageNo;
  const job = { repo: text(q.get("job_repo")), workflow: text(q.get("job_workflow")), job: text(q.get("job")) };
  if (job.repo && job.workflow && job.job) view.job = job as JobRef;
  // Present but empty: the label set of jobs that named no label.
  const labels = q.get("labels");
  if (labels !== null) view.labels = labels.trim();
  const usageBy = oneOf(q.get("by"), USAGE_GROUPS);
  if (usageBy && usageBy !== "repo") view.usageBy = usageBy;
  const testRank = oneOf(q.get("rank"), TEST_RANKS);
  if (testRank && testRank !== "flaky") view.testRank = testRank;
  const testSearch = text(q.get("q"));
  if (testSearch) view.testSearch = testSearch;
  const testId = Number(q.get("test"));
  const testRepo = text(q.get("test_repo"));
  if (Number.isSafeInteger(testId) && testId > 0 && testRepo) view.test = { id: testId, repo: testRepo };
  const service = text(q.get("service"));
  if (service) view.service = service;
  const environment = text(q.get("env"));
  if (environment) view.environment = environment;
  if (q.get("envs") === "all") view.envs = "all";
  const deployment = Number(q.get("deployment"));
  if (Number.isSafeInteger(deployment) && deployment > 0) view.deployment = deployment;
  return view;
}

/** The URL (path and query) of a view; defaults are left out, so links stay short and stable. */
export function formatView(view: View): string {
  const q = new URLSearchParams();
  const put = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== "") q.set(key, value);
  };
  put("repo", view.repo);
  put("workflow", view.workflow);
  put("branch", view.branch);
  put("status", view.status);
  if (view.range !== DEFAULT_RANGE) put("range", view.range);
  if (view.range === "custom") {
    put("from", view.from);
    put("to", view.to);
  }
  put("group", view.group);
  put("tz", view.tz === "local" ? undefined : view.tz);
  if (view.sort !== "newest") put("sort", view.sort);
  put("run", view.run);
  if (view.jobSort && view.jobSort !== "slowest") put("order", view.jobSort);
  const pageNo = view.page === "tests" ? view.testsPage : view.jobsPage;
  if (pageNo && pageNo > 1) put("p", String(pageNo));
  if (view.job) {
    put("job_repo", view.job.repo);
    put("job_workflow", view.job.workflow);
    put("job", view.job.job);
  }
  if (view.labels !== undefined) q.set("labels", view.labels);
  if (view.usageBy && view.usageBy !== "repo") put("by", view.usageBy);
  if (view.testRank && view.testRank !== "flaky") put("rank", view.testRank);
  put("q", view.testSearch);
  if (view.test) {
    put("test", String(view.test.id));
    put("test_repo", view.test.repo);
  }
  put("service", view.service);
  put("env", view.environment);
  put("envs", view.envs);
  if (view.deployment) put("deployment", String(view.deployment));
  const query = q.toString();
  return `${view.page === "dashboard" ? "/" : `/${view.page}`}${query ? `?${query}` : ""}`;
}

/** What changes the jobs list (back to its first page when it does). */
const JOB_LIST_KEYS: readonly (keyof View)[] = ["repo", "workflow", "branch", "range", "from", "to", "jobSort"];
/** What changes the tests list (back to its first page when it does). */
const TEST_LIST_KEYS: readonly (keyof View)[] = [
  "repo",
  "workflow",
  "branch",
  "range",
  "from",
  "to",
  "testRank",
  "testSearch",
];

/**
 * Changing the repository clears the workflow (workflows belong to a repository); changing the
 * jobs' or the tests' filters, order or search goes back to their first page; another page leaves
 * the previous page's selection (the run, job, label set or test open) behind.
 */
export function withFilter(view: View, patch: Partial<View>): View {
  const next = { ...view, ...patch };
  if ("repo" in patch && patch.repo !== view.repo && !("workflow" in patch)) delete next.workflow;
  const changes = (keys: readonly (keyof View)[]) => keys.some((k) => k in patch && patch[k] !== view[k]);
  if (!("jobsPage" in patch) && changes(JOB_LIST_KEYS)) delete next.jobsPage;
  if (!("testsPage" in patch) && changes(TEST_LIST_KEYS)) delete next.testsPage;
  if (patch.page !== undefined && patch.page !== view.page) {
    for (const key of ["run", "job", "labels", "jobsPage", "test", "testsPage", "deployment"] as const) {
      if (!(key in patch)) delete next[key];
    }
  }
  for (const key of Object.keys(next) as (keyof View)[]) {
    if (next[key] === undefined) delete next[key];
  }
  return next;
}

const HOUR = 3_600_000;
const SPANS: Record<Exclude<Range, "custom">, number> = {
  "24h": 24 * HOUR,
  "7d": 7 * 24 * HOUR,
  "30d": 30 * 24 * HOUR,
};

export interface Window {
  from: Date;
  to: Date;
  group: Grain;
}

/** The grain that keeps a chart readable: hours up to 7 days (≤ 168 points), days up to ~6 months. */
export function naturalGrain(spanMs: number): Grain {
  if (spanMs <= 7 * 24 * HOUR) return "hour";
  if (spanMs <= 180 * 24 * HOUR) return "day";
  return "week";
}

/**
 * The window a view asks the API for. Relative ranges end at the next whole hour, so the query
 * (and its cache key) stays the same for an hour while the data inside it updates live.
 */
export function windowOf(view: View, now: Date = new Date()): Window {
  let from: Date;
  let to: Date;
  if (view.range === "custom" && view.from && view.to) {
    from = new Date(view.from);
    to = new Date(view.to);
  } else {
    const span = SPANS[view.range === "custom" ? DEFAULT_RANGE : view.range];
    to = new Date(Math.ceil((now.getTime() + 1) / HOUR) * HOUR);
    from = new Date(to.getTime() - span);
  }
  return { from, to, group: view.group ?? naturalGrain(to.getTime() - from.getTime()) };
}
