// The tests view's and the run panel's wording of test results: statuses, commits, names, counts,
// where a failure started, and a test's history as a strip. Pure functions, unit-tested without a
// browser.
import type { Schemas } from "../api/client";
import { formatCount } from "./format";

export type TestStatus = Schemas["TestStatus"];
type HistoryEntry = Schemas["HistoryEntry"];

/** How each status is shown: its name, the glyph drawn in its colour, its badge's colour class. */
export const TEST_STATUSES: Record<TestStatus, { label: string; glyph: string; tone: string }> = {
  failed: { label: "failed", glyph: "✕", tone: "failure" },
  error: { label: "error", glyph: "!", tone: "failure" },
  flaky: { label: "flaky", glyph: "~", tone: "running" },
  skipped: { label: "skipped", glyph: "–", tone: "skipped" },
  passed: { label: "passed", glyph: "✓", tone: "success" },
};

/** The statuses in the API's order: failures first. */
export const TEST_STATUS_ORDER = Object.keys(TEST_STATUSES) as TestStatus[];

/** Failed or error: the test did not pass in the end. */
export function isFailure(status: TestStatus): boolean {
  return status === "failed" || status === "error";
}

/** A commit as people quote it: a hex SHA's first 7 characters; a run key (no commit) as it is. */
export function shortCommit(commit: string): string {
  return /^[0-9a-f]{8,}$/i.test(commit) ? commit.slice(0, 7) : commit;
}

/** Where a test sits: its class, else its suite (pytest and JUnit name a class; Go and Jest a suite). */
export function testContext(t: { suite: string; classname: string }): string {
  return t.classname || t.suite;
}

/** "failing since 3f2c9e1 (last passed 0a1b2c3)", or "(no pass among its last reports)". */
export function failingSinceText(since: Schemas["FailingSince"]): string {
  const last = since.last_passing_commit
    ? `last passed ${shortCommit(since.last_passing_commit)}`
    : "no pass among its last reports";
  return `failing since ${shortCommit(since.first_failing_commit)} (${last})`;
}

/** A test's results oldest first, as the strip draws them (the API answers newest first). */
export function oldestFirst(results: readonly HistoryEntry[]): HistoryEntry[] {
  return [...results].reverse();
}

/** The newest result that failed, with its message when one of the failures has it. */
export function latestFailure(results: readonly HistoryEntry[]): HistoryEntry | undefined {
  const failures = results.filter((r) => isFailure(r.status));
  return failures.find((r) => r.message) ?? failures[0];
}

/** How many results have each status. */
export function countByStatus(results: readonly { status: TestStatus }[]): Record<TestStatus, number> {
  const counts = Object.fromEntries(TEST_STATUS_ORDER.map((s) => [s, 0])) as Record<TestStatus, number>;
  for (const r of results) counts[r.status] += 1;
  return counts;
}

/** "3 failed, 1 flaky, 20 passed": the statuses that occur, failures first. */
export function countsText(counts: Record<TestStatus, number>): string {
  const parts = TEST_STATUS_ORDER.filter((s) => counts[s] > 0).map((s) => `${formatCount(counts[s])} ${s}`);
  return parts.length > 0 ? parts.join(", ") : "no results";
}

/** A run's counts by status (the API's `failed` counts errors too: here they are apart). */
export function runCounts(summary: Schemas["TestCounts"]): Record<TestStatus, number> {
  return {
    failed: summary.failed - summary.errors,
    error: summary.errors,
    flaky: summary.flaky,
    skipped: summary.skipped,
    passed: summary.passed,
  };
}

/** What one cell of a test's history says in words (its colour and glyph say it to the eye). */
export function historyLabel(r: HistoryEntry, when: string): string {
  const parts = [
    TEST_STATUSES[r.status].label,
    `commit ${shortCommit(r.commit)}`,
    when,
    r.branch ? `branch ${r.branch}` : null,
    r.job ? `job ${r.job}` : null,
    r.attempts > 1 ? `${r.attempts} attempts` : null,
    r.flaky_commit ? "flaky on this commit" : null,
  ];
  return parts.filter(Boolean).join(" · ");
}

export type AutoQuarantineRule = Schemas["AutoQuarantine"];

/** The auto-quarantine's bounds, as the API checks them. */
export const AUTO_QUARANTINE_FLAKES = { min: 1, max: 1000 } as const;
export const AUTO_QUARANTINE_DAYS = { min: 1, max: 365 } as const;

/** "a test that flaked on 3 commits within 14 days is quarantined", or "off". */
export function describeAutoQuarantine(rule: AutoQuarantineRule | null | undefined): string {
  if (!rule) return "off";
  const commits = rule.flakes === 1 ? "1 commit" : `${formatCount(rule.flakes)} commits`;
  const days = rule.days === 1 ? "1 day" : `${formatCount(rule.days)} days`;
  return `a test that flaked on ${commits} within ${days} is quarantined`;
}

/** The auto-quarantine form: off, or on with its two figures as typed. */
export interface AutoQuarantineForm {
  on: boolean;
  flakes: string;
  days: string;
}

export function autoQuarantineForm(rule: AutoQuarantineRule | null | undefined): AutoQuarantineForm {
  return rule
    ? { on: true, flakes: String(rule.flakes), days: String(rule.days) }
    : { on: false, flakes: "3", days: "14" };
}

/** What is wrong with an auto-quarantine form, field by field, as the API would say it. */
export function autoQuarantineProblems(form: AutoQuarantineForm): Schemas["FieldError"][] {
  if (!form.on) return [];
  const problems: Schemas["FieldError"][] = [];
  const check = (field: "flakes" | "days", { min, max }: { min: number; max: number }, what: string) => {
    const text = form[field].trim();
    const n = Number(text);
    if (text === "" || !Number.isInteger(n) || n < min || n > max) {
      problems.push({ field, message: `must be a whole number of ${what} from ${min} to ${formatCount(max)}` });
    }
  };
  check("flakes", AUTO_QUARANTINE_FLAKES, "commits");
  check("days", AUTO_QUARANTINE_DAYS, "days");
  return problems;
}

/** The rule a valid form gives: `null` when off. */
export function autoQuarantineOf(form: AutoQuarantineForm): AutoQuarantineRule | null {
  return form.on ? { flakes: Number(form.flakes.trim()), days: Number(form.days.trim()) } : null;
}

/** The URL a CI step reads a repository's quarantine from (every repository's without one), one test name per line. */
export function quarantineTextUrl(origin: string, repo: string | undefined): string {
  return `${origin}/api/tests/quarantine?${repo ? `repo=${encodeURIComponent(repo)}&` : ""}format=text`;
}
