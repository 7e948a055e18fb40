import { describe, expect, it } from "vitest";
import {
  CONDITION_TYPES,
  defaultCondition,
  describeCondition,
  describeMatch,
  isSpan,
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
    ]);
    expect(describeCondition({ type: "ConsecutiveFailures", threshold: 1 })).toBe("1 consecutive failure");
  });
  it("describes what a rule watches", () => {
    expect(describeMatch(newRuleSpec().match)).toBe("all runs");
    expect(describeMatch({ repo: "acme/*", workflows: ["ci", "deploy"], branches: ["main"] })).toBe(
      "acme/* · ci, deploy · main",
    );
  });
  it("reads lists and spans as the backend does", () => {
    expect(splitList(" main, release/* ,,")).toEqual(["main", "release/*"]);
    expect(["30s", "1h30m", "7d"].every(isSpan)).toBe(true);
    expect(["", "1w", "h", "1.5h", "-1h"].some(isSpan)).toBe(false);
  });
});
