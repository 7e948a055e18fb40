import { describe, expect, it } from "vitest";
import {
  CONDITION_TYPES,
  defaultCondition,
  describeCondition,
  describeMatch,
  describeWatched,
  globProblem,
  isDeliveryCondition,
  isJobCondition,
  isSpan,
  labelSet,
  matchScope,
  newRuleSpec,
  ruleProblems,
  scopedMatch,
  spanSeconds,
  splitList,
  TEST_CONDITIONS,
  type Condition,
  type RuleSpec,
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
      "a test flaked (failed and passed on one commit) within 7d, once per test",
      "failure rate of each test matching * ≥ 20% over 7d (at least 5 runs)",
      "a production deployment failed, until the next one succeeds",
      "change failure rate ≥ 15% over 7d (at least 5 deployments)",
      "p95 lead time for changes > 2d over 7d",
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

describe("test conditions", () => {
  const login = { repo: "acme/api", name: "test_login", classname: "tests.test_api" };
  const rate = (patch: Partial<Extract<Condition, { type: "TestFailureRate" }>>): Condition => ({
    type: "TestFailureRate",
    threshold: 20,
    window: "7d",
    minRuns: 5,
    ...patch,
  });
  const spec = (condition: Condition, match: RuleSpec["match"] = { repo: null, workflows: [], branches: [] }) => ({
    ...newRuleSpec(),
    condition,
    match,
  });

  it("describe the test they watch, or the tests a glob matches in a repository", () => {
    expect(TEST_CONDITIONS).toEqual(["FlakyTest", "TestFailureRate"]);
    expect(describeCondition(rate({ test: login, threshold: 30, minRuns: 10 }))).toBe(
      "failure rate of acme/api · tests.test_api::test_login ≥ 30% over 7d (at least 10 runs)",
    );
    expect(describeCondition(rate({ test: { repo: "acme/api", name: "TestLogin", suite: "go" } }))).toBe(
      "failure rate of acme/api · TestLogin (suite go) ≥ 20% over 7d (at least 5 runs)",
    );
    expect(describeWatched(spec(rate({ test: login })))).toBe("test acme/api · tests.test_api::test_login");
    expect(describeWatched(spec(rate({ testMatch: "tests.test_api::*" }), { repo: "acme/*" }))).toBe("tests in acme/*");
    expect(describeWatched(spec(rate({ testMatch: "*" })))).toBe("tests in every repository");
    expect(describeWatched(spec({ type: "FlakyTest", window: "1d" }, { repo: "acme/api", branches: ["main"] }))).toBe(
      "tests of acme/api · main",
    );
  });

  it("keep the parts of the selector that apply: all for flaky tests, the repository for a glob, none for one test", () => {
    expect(matchScope({ type: "FlakyTest", window: "7d" })).toBe("all");
    expect(matchScope(rate({ testMatch: "*" }))).toBe("repo");
    expect(matchScope(rate({ test: login }))).toBe("none");
    expect(matchScope(defaultCondition("QueuedJobs"))).toBe("none");
    expect(matchScope(defaultCondition("FailureRate"))).toBe("all");
    const match = { provider: "github", repo: "acme/*", workflows: ["ci"], branches: ["main"] };
    expect(scopedMatch(match, "all")).toBe(match);
    expect(scopedMatch(match, "repo")).toEqual({ repo: "acme/*", workflows: [], branches: [] });
    expect(scopedMatch(match, "none")).toEqual({ repo: null, workflows: [], branches: [] });
  });

  it("are checked as the backend checks them, each problem under its field", () => {
    const fields = (condition: Condition, match?: RuleSpec["match"]) =>
      ruleProblems("r", spec(condition, match)).map((p) => p.field);
    const day = "1d";
    // The same cases as crds/src/alert_rule.rs, then the selector's (backend/src/alerting/rules.rs).
    expect(fields({ type: "TestFailureRate", threshold: 20, window: day, minRuns: 5 })).toEqual([
      "spec.condition.test",
    ]);
    expect(fields(rate({ test: { repo: "a", name: "b" }, testMatch: "*", threshold: 0, window: day }))).toEqual([
      "spec.condition.threshold",
      "spec.condition.testMatch",
    ]);
    expect(fields(rate({ test: { repo: " ", name: "" }, threshold: 101, window: day }))).toEqual([
      "spec.condition.threshold",
      "spec.condition.test.repo",
      "spec.condition.test.name",
    ]);
    expect(fields(rate({ testMatch: " " }))).toEqual(["spec.condition.testMatch"]);
    expect(fields(rate({ testMatch: "x".repeat(1001) }))).toEqual(["spec.condition.testMatch"]);
    expect(fields(rate({ testMatch: "*", window: "1h" }))).toEqual(["spec.condition.window"]);
    expect(fields(rate({ testMatch: "*", window: "91d" }))).toEqual(["spec.condition.window"]);
    expect(fields({ type: "FlakyTest", window: "30s" })).toEqual(["spec.condition.window"]);
    expect(fields({ type: "FlakyTest", window: "1h" })).toEqual([]);
    expect(fields(rate({ testMatch: "tests.test_api::*", window: day }))).toEqual([]);
    expect(fields(rate({ test: login }))).toEqual([]);
    // One test: no selector at all; a glob: the repository only.
    expect(fields(rate({ test: login }), { repo: "acme/api" })).toEqual(["spec.match"]);
    expect(fields(rate({ testMatch: "*" }), { repo: "acme/*" })).toEqual([]);
    expect(
      fields(rate({ testMatch: "*" }), { provider: "github", repo: "acme/*", workflows: ["ci"], branches: ["main"] }),
    ).toEqual(["spec.match.provider", "spec.match.workflows", "spec.match.branches"]);
    expect(
      fields({ type: "FlakyTest", window: "7d" }, { repo: "acme/*", workflows: ["ci"], branches: ["main"] }),
    ).toEqual([]);
    const [glob] = ruleProblems("r", spec(rate({ testMatch: "tests.{a,b" })));
    expect(glob).toEqual({
      field: "spec.condition.testMatch",
      message: `"tests.{a,b" is not a valid glob: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)`,
    });
  });

  it("check the rest of a rule too: its name, thresholds, spans and notification timing", () => {
    const problems = ruleProblems(" ", {
      ...newRuleSpec(),
      condition: {
        type: "JobFailureRate",
        job: { repo: "", workflow: "ci", name: "test" },
        threshold: 25,
        window: "2h",
        minRuns: 5,
      },
      match: { repo: "acme/*" },
      notify: { ...newRuleSpec().notify, groupWait: "2d", repeatInterval: "30s" },
    });
    expect(problems.map((p) => p.field)).toEqual([
      "name",
      "spec.condition.job.repo",
      "spec.match",
      "spec.notify.groupWait",
      "spec.notify.repeatInterval",
    ]);
    expect(
      ruleProblems("r", {
        ...newRuleSpec(),
        condition: { type: "QueuedJobs", labels: [" "], threshold: 0, for: "2d" },
      }).map((p) => p.field),
    ).toEqual(["spec.condition.threshold", "spec.condition.labels", "spec.condition.for"]);
    expect(
      ruleProblems("r", {
        ...newRuleSpec(),
        condition: { type: "Duration", stat: "p95", threshold: "15 min", window: "1h" },
      }),
    ).toEqual([{ field: "spec.condition.threshold", message: '"15 min" is not a duration like 30s, 5m, 4h or 7d' }]);
    for (const { type } of CONDITION_TYPES.filter((t) => !isJobCondition(t.type))) {
      expect(ruleProblems("r", { ...newRuleSpec(), condition: defaultCondition(type) }), type).toEqual([]);
    }
  });

  it("read spans and globs as the backend does", () => {
    expect(["30s", "1h30m", "7d", "1d1s"].map(spanSeconds)).toEqual([30, 5400, 604_800, 86_401]);
    expect(spanSeconds("1.5h")).toBeNull();
    expect(["*", "tests.test_api::*", "a[bc]*", "{a,b}::test_*", "[!a-z]x", "a\\*", "[]]"].map(globProblem)).toEqual(
      Array(7).fill(null),
    );
    expect(globProblem("a[bc")).toBe("unclosed character class; missing ']'");
    expect(globProblem("[z-a]")).toBe("invalid character range");
    expect(globProblem("a,b}")).toBe("unopened alternate group; missing '{' (maybe escape '}' with '[}]'?)");
    expect(globProblem("a\\")).toBe("dangling '\\'");
  });
});

describe("delivery conditions", () => {
  const spec = (condition: Condition, match: RuleSpec["match"] = newRuleSpec().match): RuleSpec => ({
    ...newRuleSpec(),
    condition,
    match,
  });

  it("watch the production deployments of the services a glob matches, with no selector", () => {
    const delivery = CONDITION_TYPES.filter(({ type }) => isDeliveryCondition(defaultCondition(type)));
    expect(delivery.map(({ type }) => type)).toEqual(["DeploymentFailed", "ChangeFailureRate", "LeadTime"]);
    expect(matchScope(defaultCondition("LeadTime"))).toBe("none");
    expect(describeWatched(spec({ type: "DeploymentFailed" }))).toBe(
      "production deployments of every service, one incident per service",
    );
    expect(describeWatched(spec({ type: "DeploymentFailed", service: " payments-* " }))).toBe(
      "production deployments of the services matching payments-*, one incident per service",
    );
    expect(describeCondition({ type: "LeadTime", stat: "p50", threshold: "1d", window: "14d", service: "api" })).toBe(
      "p50 lead time for changes > 1d over 14d",
    );
  });

  it("are checked as the backend checks them, each problem under its field", () => {
    expect(ruleProblems("r", spec(defaultCondition("ChangeFailureRate")))).toEqual([]);
    expect(
      ruleProblems(
        "r",
        spec({ type: "ChangeFailureRate", threshold: 0, window: "7d", minDeployments: 1.5, service: "  " }),
      ).map((p) => p.field),
    ).toEqual(["spec.condition.threshold", "spec.condition.minDeployments", "spec.condition.service"]);
    expect(ruleProblems("r", spec({ type: "DeploymentFailed", service: "api-{a" }))).toEqual([
      {
        field: "spec.condition.service",
        message: "\"api-{a\" is not a valid glob: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)",
      },
    ]);
    expect(
      ruleProblems("r", spec({ type: "LeadTime", stat: "p95", threshold: "2 days", window: "7d" })).map((p) => p.field),
    ).toEqual(["spec.condition.threshold"]);
    // Their window is any span; a selector is refused.
    expect(ruleProblems("r", spec({ type: "LeadTime", stat: "p95", threshold: "2d", window: "120d" }))).toEqual([]);
    expect(
      ruleProblems("r", spec({ type: "DeploymentFailed" }, { repo: "acme/*", workflows: [], branches: [] })),
    ).toEqual([
      {
        field: "spec.match",
        message:
          "must be empty for DeploymentFailed: it watches production deployments, by the condition's service glob",
      },
    ]);
  });
});
