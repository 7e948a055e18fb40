import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import {
  byEnvironment,
  deploymentMarks,
  deploymentSeconds,
  environmentsProblem,
  formatRate,
  keyCards,
  longestLead,
  parseEnvironments,
  restoreSeconds,
} from "./delivery";

type Key = Schemas["DoraKey"];

const series = (values: (number | null)[]) =>
  values.map((value, i) => ({ start: `2026-11-0${i + 1}T00:00:00Z`, value, sample: value == null ? 0 : 1 }));

function key(patch: Partial<Key> & { values?: (number | null)[] }): Key {
  const { values = [], ...rest } = patch;
  return {
    unit: "seconds",
    value: null,
    band: null,
    sample: 0,
    previous: { value: null, band: null, sample: 0 },
    change: null,
    series: series(values),
    ...rest,
  };
}

const dora: Schemas["Dora"] = {
  from: "2026-11-01T00:00:00Z",
  to: "2026-11-03T00:00:00Z",
  tz: "UTC",
  group_by: "day",
  service: null,
  environment: null,
  production_environments: ["production", "prod-*"],
  change_failure_causes: ["failed_deployment", "rollback", "incident"],
  bands_edition: "Accelerate State of DevOps Report 2023",
  deployment_frequency: key({
    unit: "deployments_per_day",
    value: 1.5,
    per_week: 10.5,
    band: "elite",
    sample: 3,
    previous: { value: 0.5, band: "high", sample: 1 },
    change: 2,
    values: [2, 1],
  }),
  lead_time_for_changes: key({
    value: 5400,
    p95: 2 * 86_400,
    band: "elite",
    sample: 4,
    previous: { value: 10_800, band: "elite", sample: 2 },
    change: -0.5,
    values: [3600, null],
  }),
  change_failure_rate: key({
    unit: "ratio",
    value: 1 / 3,
    band: "low",
    sample: 3,
    previous: { value: 0.25, band: "low", sample: 4 },
    values: [0.5, 0],
  }),
  time_to_restore: key({ values: [null, null] }),
};

describe("the DORA keys as cards", () => {
  it("formats each value with its unit, its second figure, band, sample and the period before", () => {
    const [freq, lead, cfr, ttr] = keyCards(dora);
    expect(freq).toMatchObject({
      label: "Deployment frequency",
      value: "1.5/day",
      detail: "10.5/week",
      band: "elite",
      sample: "from 3 successful deployments",
      previous: "0.5/day in the previous period (high)",
      unit: "count",
    });
    expect(freq!.delta).toMatchObject({ text: "+200%", good: true });
    expect(lead).toMatchObject({ value: "1h 30m", detail: "p95 2d", sample: "from 4 commits", unit: "duration" });
    expect(lead!.delta).toMatchObject({ text: "−50%", good: true });
    // A rate: its change in percentage points.
    expect(cfr).toMatchObject({ value: "33.3%", detail: null, band: "low", unit: "percent" });
    expect(cfr!.delta).toMatchObject({ text: "+8.3 pp", good: false });
    expect(ttr).toMatchObject({
      value: "—",
      band: null,
      sample: "no restorations",
      previous: "nothing in the previous period",
    });
    expect(ttr!.delta.text).toBeNull();
    expect(freq!.points.map((p) => p.value)).toEqual([2, 1]);
    expect(lead!.format(7200)).toBe("2h 00m");
  });

  it.each([
    [null, "—"],
    [0, "0"],
    [0.034, "0.034"],
    [0.14285, "0.14"],
    [1.25, "1.3"],
    [12.64, "12.6"],
    [140.4, "140"],
  ])("writes %s deployments a day as %s", (n, text) => {
    expect(formatRate(n)).toBe(text);
  });
});

function deployment(patch: Partial<Schemas["Deployment"]>): Schemas["Deployment"] {
  return {
    id: 1,
    source: "generic",
    external_id: "d1",
    service: "api",
    environment: "production",
    kind: "deploy",
    status: "success",
    created_at: "2026-11-02T10:00:00Z",
    finished_at: "2026-11-02T10:05:00Z",
    commit_count: 0,
    commits: [],
    incidents: [],
    ...patch,
  };
}

const incident = (id: number): Schemas["ProductionIncident"] => ({
  id,
  source: "generic",
  external_id: `i${id}`,
  service: "api",
  started_at: "2026-11-02T11:00:00Z",
  resolved_at: "2026-11-02T11:45:00Z",
});

describe("deployments", () => {
  it("are grouped by environment, newest first, the environment deployed to last first", () => {
    const groups = byEnvironment([
      deployment({ id: 1, environment: "staging", created_at: "2026-11-02T09:00:00Z" }),
      deployment({ id: 2, environment: "production", created_at: "2026-11-02T08:00:00Z" }),
      deployment({ id: 3, environment: "production", created_at: "2026-11-02T12:00:00Z" }),
      deployment({ id: 4, environment: "staging", created_at: "2026-11-02T13:00:00Z" }),
    ]);
    expect(groups.map(([env, list]) => [env, list.map((d) => d.id)])).toEqual([
      ["staging", [4, 1]],
      ["production", [3, 2]],
    ]);
  });

  it("are marked when they failed, roll back or have incidents", () => {
    expect(deploymentMarks(deployment({}))).toEqual([]);
    expect(deploymentMarks(deployment({ status: "error" }))).toEqual(["failed"]);
    expect(deploymentMarks(deployment({ kind: "rollback", incidents: [incident(1), incident(2)] }))).toEqual([
      "rollback",
      "2 incidents",
    ]);
    expect(deploymentMarks(deployment({ status: "failure", incidents: [incident(1)] }))).toEqual([
      "failed",
      "1 incident",
    ]);
  });

  it("take their time, their commits' longest lead time, and their incidents' time to restore", () => {
    expect(deploymentSeconds(deployment({}))).toBe(300);
    expect(deploymentSeconds(deployment({ finished_at: null }))).toBeNull();
    expect(
      longestLead(
        deployment({
          commits: [
            { sha: "a", lead_seconds: 600 },
            { sha: "b", lead_seconds: null },
            { sha: "c", lead_seconds: 7200 },
          ],
        }),
      ),
    ).toBe(7200);
    expect(longestLead(deployment({}))).toBeNull();
    expect(restoreSeconds(incident(1))).toBe(2700);
    expect(restoreSeconds({ ...incident(1), resolved_at: null })).toBeNull();
  });
});

describe("production environments in the settings", () => {
  it("are one per line or comma-separated, blanks and repeats left out", () => {
    expect(parseEnvironments(" production \n\nprod-*, live,\nPRODUCTION")).toEqual(["production", "prod-*", "live"]);
    expect(parseEnvironments("  \n ")).toEqual([]);
  });

  it("are 1 to 100 of at most 255 characters", () => {
    expect(environmentsProblem(["production"])).toBeNull();
    expect(environmentsProblem([])).toMatch(/at least one/);
    expect(environmentsProblem(Array.from({ length: 101 }, (_, i) => `e${i}`))).toMatch(/At most 100/);
    expect(environmentsProblem(["x".repeat(256)])).toMatch(/longer than 255/);
  });
});
