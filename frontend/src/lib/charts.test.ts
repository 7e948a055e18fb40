import { describe, expect, it } from "vitest";
import type { Metrics } from "../api/client";
import { keyStep, peak, stack } from "./charts";
import { valueVsThreshold } from "./format";
import { kpisOf, sparkPath } from "./kpis";

const stats = { total_runs: 10, success: 5, failure: 5, cancelled: 0, skipped: 0, flaky_runs: 1, flake_rate: 0.1 };
const metrics = {
  summary: {
    ...stats,
    failed_last_24h: 6,
    failed_previous_24h: 4,
    running: 0,
    last_updated: "2026-11-27T10:00:00Z",
  },
  previous: { ...stats, failure: 50, flake_rate: 1 / 55 },
  time_series: [],
  recent_runs: [],
  window: {
    from: "2026-11-20T00:00:00Z",
    to: "2026-11-27T00:00:00Z",
    group_by: "day",
    tz: "UTC",
    source: "rollups",
  },
} satisfies Metrics;

describe("chart helpers", () => {
  it("stacks series bottom-up, treating gaps as zero", () => {
    expect(
      stack([
        [1, 2, null],
        [3, 0, 1],
        [0, 1, 1],
      ]),
    ).toEqual([
      [1, 2, 0],
      [4, 2, 1],
      [4, 3, 2],
    ]);
  });
  it("draws a sparkline through known points and breaks at gaps", () => {
    expect(sparkPath([null], 100, 32)).toBe("");
    expect(sparkPath([1, 3], 100, 32)).toBe("M0.0,30.0L100.0,2.0");
    expect(sparkPath([1, null, 3, 2], 90, 32)).toBe("M0.0,30.0M60.0,2.0L90.0,16.0");
  });
  it("shows an incident's value against its threshold", () => {
    expect(valueVsThreshold({ value: 3, threshold: 3 })).toBe("3 (threshold 3)");
    expect(valueVsThreshold({ value: 41.25, threshold: 25 })).toBe("41.3 (threshold 25)");
    expect(valueVsThreshold({ value: null, threshold: 5 })).toBeNull();
  });
  it("moves the keyboard cursor through the periods and stops at the ends", () => {
    expect(keyStep("ArrowRight", null, 5)).toBe(0);
    expect(keyStep("ArrowLeft", null, 5)).toBe(4);
    expect(keyStep("ArrowRight", 4, 5)).toBe(4);
    expect(keyStep("ArrowLeft", 0, 5)).toBe(0);
    expect(keyStep("End", 1, 5)).toBe(4);
    expect(keyStep("Home", 3, 5)).toBe(0);
    expect(keyStep("PageDown", 0, 168)).toBe(17);
    expect(keyStep("PageUp", 10, 168)).toBe(0);
    expect(keyStep("Tab", 1, 5)).toBeNull();
    expect(keyStep("ArrowRight", null, 0)).toBeNull();
  });
  it("finds the peak period for the text summary", () => {
    expect(peak([10, 20, 30], [1, null, 3])).toEqual({ at: 30, value: 3 });
    expect(peak([10, 20], [0, null])).toBeNull();
  });
  it("compares failed runs of the last 24 h with the 24 h before, not with the previous period", () => {
    const failed = kpisOf(metrics).find((k) => k.label === "Failed runs (24 h)")!;
    expect(failed.value).toBe("6");
    expect(failed.delta).toMatchObject({ text: "+50%", good: false });
    expect(failed.against).toBe("previous 24 h");
  });
  it("shows the flake rate beside the success rate, with its change and what a flaky run is", () => {
    const kpis = kpisOf(metrics);
    expect(kpis.slice(0, 2).map((k) => k.label)).toEqual(["Success rate", "Flake rate"]);
    const flaky = kpis[1]!;
    // 1 flaky run of the 10 that succeeded or failed, against 1 of 55 before.
    expect(flaky.value).toBe("10.0%");
    expect(flaky.delta).toMatchObject({ text: "+8.2 pp", good: false });
    expect(flaky.hint).toBe(
      "flaky runs ÷ (success + failure): 1 run passed on a re-run after an attempt of the same run and commit failed",
    );
    // The API has no series of flaky runs: no sparkline.
    expect(flaky.series).toBeUndefined();
    const none = kpisOf({ ...metrics, summary: { ...metrics.summary, flaky_runs: 0, flake_rate: null } })[1]!;
    expect([none.value, none.delta.label]).toEqual(["—", "no data"]);
  });
});
