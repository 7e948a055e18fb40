import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import {
  autoQuarantineForm,
  autoQuarantineOf,
  autoQuarantineProblems,
  countByStatus,
  countsText,
  failingSinceText,
  historyLabel,
  latestFailure,
  describeAutoQuarantine,
  oldestFirst,
  quarantineTextUrl,
  runCounts,
  shortCommit,
  testContext,
} from "./tests";

function result(status: Schemas["TestStatus"], patch: Partial<Schemas["HistoryEntry"]> = {}): Schemas["HistoryEntry"] {
  return {
    run_id: "r",
    repo: "acme/api",
    commit: "3f2c9e1d00aa",
    run_at: "2026-11-27T10:00:00Z",
    job: "",
    status,
    attempts: 1,
    flaky_commit: false,
    ...patch,
  };
}

describe("test wording", () => {
  it("quotes commits by their first 7 hex digits, and run keys as they are", () => {
    expect(shortCommit("3f2c9e1d00aa7b")).toBe("3f2c9e1");
    expect(shortCommit("abc1234")).toBe("abc1234");
    expect(shortCommit("acme/api#42")).toBe("acme/api#42");
  });

  it("places a test by its class, else its suite", () => {
    expect(testContext({ suite: "pkg", classname: "tests.test_api" })).toBe("tests.test_api");
    expect(testContext({ suite: "github.com/acme/api", classname: "" })).toBe("github.com/acme/api");
  });

  it("says where a failure started, and when no pass is known", () => {
    const since = {
      first_failing_commit: "bbbbbbbbbbbb",
      first_failing_run: "r2",
      first_failing_at: "2026-11-27T10:00:00Z",
      last_passing_commit: "aaaaaaaaaaaa",
      last_passing_at: "2026-11-26T10:00:00Z",
    };
    expect(failingSinceText(since)).toBe("failing since bbbbbbb (last passed aaaaaaa)");
    expect(failingSinceText({ ...since, last_passing_commit: null })).toBe(
      "failing since bbbbbbb (no pass among its last reports)",
    );
  });

  it("counts results by status, failures first, and a run's errors apart from its failures", () => {
    const results = [result("passed"), result("failed"), result("passed"), result("flaky")];
    expect(countsText(countByStatus(results))).toBe("1 failed, 1 flaky, 2 passed");
    expect(countsText(countByStatus([]))).toBe("no results");
    expect(runCounts({ tests: 10, passed: 6, failed: 3, errors: 1, skipped: 0, flaky: 1 })).toEqual({
      failed: 2,
      error: 1,
      flaky: 1,
      skipped: 0,
      passed: 6,
    });
  });

  it("draws a history oldest first, and finds its latest failure with a message", () => {
    const newest = result("failed", { run_id: "r3" });
    const withMessage = result("error", { run_id: "r2", message: "boom" });
    const oldest = result("passed", { run_id: "r1" });
    expect(oldestFirst([newest, withMessage, oldest]).map((r) => r.run_id)).toEqual(["r1", "r2", "r3"]);
    expect(latestFailure([newest, withMessage, oldest])?.run_id).toBe("r2");
    expect(latestFailure([newest, oldest])?.run_id).toBe("r3");
    expect(latestFailure([oldest])).toBeUndefined();
  });

  it("says a result in words: status, commit, when, branch, job, attempts and a flaky commit", () => {
    const r = result("flaky", { branch: "main", job: "test", attempts: 2, flaky_commit: true });
    expect(historyLabel(r, "27 Nov 2026, 10:00:00 UTC")).toBe(
      "flaky · commit 3f2c9e1 · 27 Nov 2026, 10:00:00 UTC · branch main · job test · 2 attempts · flaky on this commit",
    );
    expect(historyLabel(result("passed"), "then")).toBe("passed · commit 3f2c9e1 · then");
  });
});

describe("quarantine", () => {
  it("says what the auto-quarantine rule does, or that it is off", () => {
    expect(describeAutoQuarantine(null)).toBe("off");
    expect(describeAutoQuarantine(undefined)).toBe("off");
    expect(describeAutoQuarantine({ flakes: 3, days: 14 })).toBe(
      "a test that flaked on 3 commits within 14 days is quarantined",
    );
    expect(describeAutoQuarantine({ flakes: 1, days: 1 })).toBe(
      "a test that flaked on 1 commit within 1 day is quarantined",
    );
  });

  it("checks the auto-quarantine form as the API does, and reads the rule from it", () => {
    expect(autoQuarantineForm(null)).toEqual({ on: false, flakes: "3", days: "14" });
    const form = autoQuarantineForm({ flakes: 5, days: 30 });
    expect(form).toEqual({ on: true, flakes: "5", days: "30" });
    expect(autoQuarantineProblems(form)).toEqual([]);
    expect(autoQuarantineOf({ ...form, flakes: " 2 " })).toEqual({ flakes: 2, days: 30 });
    // Off: whatever the figures say.
    expect(autoQuarantineProblems({ on: false, flakes: "", days: "0" })).toEqual([]);
    expect(autoQuarantineOf({ on: false, flakes: "3", days: "14" })).toBeNull();
    expect(autoQuarantineProblems({ on: true, flakes: "1.5", days: "366" })).toEqual([
      { field: "flakes", message: "must be a whole number of commits from 1 to 1,000" },
      { field: "days", message: "must be a whole number of days from 1 to 365" },
    ]);
    expect(autoQuarantineProblems({ on: true, flakes: "", days: "0" }).map((p) => p.field)).toEqual(["flakes", "days"]);
    expect(autoQuarantineProblems({ on: true, flakes: "1000", days: "1" })).toEqual([]);
  });

  it("gives CI the URL of a repository's quarantine as text", () => {
    expect(quarantineTextUrl("http://ci.example", "acme/api")).toBe(
      "http://ci.example/api/tests/quarantine?repo=acme%2Fapi&format=text",
    );
    expect(quarantineTextUrl("http://ci.example", undefined)).toBe(
      "http://ci.example/api/tests/quarantine?format=text",
    );
  });
});
