import { describe, expect, it } from "vitest";
import {
  CONDITION_TYPES,
  defaultCondition,
  describeCondition,
  describeMatch,
  describeWatched,
  isJobCondition,
  isSpan,
  labelSet,
  newRuleSpec,
  splitList,
} from "./rules";

describe("rules", () => {
  it("describes every condition type, starting from its defaults", () => {
    const lines = CONDITION_TYPES.map(({ type }) => describeCondition(defaultCondition(type)));
    expect(lines).toEqual([
      "first failure after a success",
      "3 consecutive failures",
      "failure rate ≥ 25% over 1h (at least 5 runs)",
      "p95 duration > 15m over 1h",
      "p95 duration 50% above the previous 7d, over 1d",
      "p95 queue time > 5m over 1h",
      "no success for 1d",
      "p95 queue time of jobs on [] > 10m over 1h",
      "≥ 5 jobs queued for [] for 15m",
      "failure rate of  ·  ·  ≥ 25% over 1d (at least 5 runs)",
      "p95 duration of  ·  ·  > 15m over 6h",
    ]);
    expect(describeCondition({ type: "ConsecutiveFailures", threshold: 1 })).toBe("1 consecutive failure");
  });
  it("describes what a rule watches", () => {
    expect(describeMatch(newRuleSpec().match)).toBe("all runs");
    expect(describeMatch({ repo: "acme/*", workflows: ["ci", "deploy"], branches: ["main"] })).toBe(
      "acme/* · ci, deploy · main",
    );
  });
  it("describes the job and runner conditions by what they watch", () => {
    const job = { repo: "acme/api", workflow: "ci", name: "test" };
    expect(
      describeCondition({ type: "QueuedJobs", labels: ["Self-Hosted", " gpu", "gpu"], threshold: 1, for: "10m" }),
    ).toBe("≥ 1 job queued for [gpu, self-hosted] for 10m");
    expect(
      describeCondition({ type: "JobQueueTime", labels: ["gpu"], stat: "p50", threshold: "5m", window: "2h" }),
    ).toBe("p50 queue time of jobs on [gpu] > 5m over 2h");
    expect(describeCondition({ type: "JobFailureRate", job, threshold: 30, window: "1d", minRuns: 10 })).toBe(
      "failure rate of acme/api · ci · test ≥ 30% over 1d (at least 10 runs)",
    );
    expect(describeCondition({ type: "JobDuration", job, stat: "p95", threshold: "20m", window: "6h" })).toBe(
      "p95 duration of acme/api · ci · test > 20m over 6h",
    );
    const spec = newRuleSpec();
    expect(describeWatched(spec)).toBe("all runs");
    expect(
      describeWatched({
        ...spec,
        condition: { type: "QueuedJobs", labels: ["gpu", "self-hosted"], threshold: 2, for: "5m" },
      }),
    ).toBe("runners [gpu, self-hosted]");
    expect(
      describeWatched({ ...spec, condition: { type: "JobDuration", job, stat: "p50", threshold: "5m", window: "1h" } }),
    ).toBe("job acme/api · ci · test");
    expect(labelSet(["B,a", " A "])).toBe("[a, b]");
  });
  it("knows which conditions watch a job or a runner pool rather than runs", () => {
    const watching = CONDITION_TYPES.filter(({ type }) => isJobCondition(type)).map(({ type }) => type);
    expect(watching).toEqual(["JobQueueTime", "QueuedJobs", "JobFailureRate", "JobDuration"]);
  });
  it("reads lists and spans as the backend does", () => {
    expect(splitList(" main, release/* ,,")).toEqual(["main", "release/*"]);
    expect(["30s", "1h30m", "7d"].every(isSpan)).toBe(true);
    expect(["", "1w", "h", "1.5h", "-1h"].some(isSpan)).toBe(false);
  });
});
