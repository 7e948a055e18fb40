import { describe, expect, it } from "vitest";
import { stack } from "./Charts";
import { sparkPath } from "./Kpis";
import { valueVsThreshold } from "./AlertsPanel";

describe("chart helpers", () => {
  it("stacks series bottom-up, treating gaps as zero", () => {
    expect(stack([[1, 2, null], [3, 0, 1], [0, 1, 1]])).toEqual([[1, 2, 0], [4, 2, 1], [4, 3, 2]]);
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
});
