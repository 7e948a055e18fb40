import { describe, expect, it } from "vitest";
import {
  delta,
  formatAgo,
  formatElapsed,
  formatDuration,
  formatPercent,
  formatTime,
  isValidZone,
  zoneNames,
} from "./format";

describe("formatDuration", () => {
  it.each([
    [null, "—"],
    [undefined, "—"],
    [-1, "—"],
    [Number.NaN, "—"],
    [0, "0s"],
    [0.0002, "<1ms"],
    [0.012, "12ms"],
    [0.25, "0.3s"],
    [2.5, "2.5s"],
    [9.96, "10s"],
    [45, "45s"],
    [59.6, "1m 00s"],
    [185, "3m 05s"],
    [3_600, "1h 00m"],
    [3_725, "1h 02m"],
    [86_400, "1d"],
    [2 * 86_400 + 3 * 3_600 + 59, "2d 3h"],
  ])("%s → %s", (input, expected) => {
    expect(formatDuration(input)).toBe(expected);
  });
});

describe("formatElapsed", () => {
  it("counts whole minutes so far", () => {
    expect([null, -5, 12, 60, 185, 3_725, 2 * 86_400 + 3 * 3_600 + 59].map((s) => formatElapsed(s))).toEqual([
      "—",
      "—",
      "<1m",
      "1m",
      "3m",
      "1h 02m",
      "2d 3h",
    ]);
  });
});

describe("formatPercent", () => {
  it("shows one decimal and never rounds a failure up to 100%", () => {
    expect(formatPercent(0.9342)).toBe("93.4%");
    expect(formatPercent(1)).toBe("100%");
    expect(formatPercent(0.99996)).toBe("99.9%");
    expect(formatPercent(0)).toBe("0.0%");
    expect(formatPercent(null)).toBe("—");
  });
});

describe("time zones", () => {
  const at = "2026-07-01T12:34:56Z";
  it("formats the same instant in the chosen zone", () => {
    expect(formatTime(at, "UTC", "full")).toContain("12:34:56");
    expect(formatTime(at, "Europe/Berlin", "full")).toContain("14:34:56");
    expect(formatTime(at, "America/New_York", "short")).toContain("08:34");
    expect(formatTime(at, "Asia/Kolkata", "time")).toBe("18:04:56");
  });
  it("follows daylight saving time", () => {
    expect(formatTime("2026-01-15T12:00:00Z", "Europe/Berlin", "time")).toBe("13:00:00");
    expect(formatTime("2026-07-15T12:00:00Z", "Europe/Berlin", "time")).toBe("14:00:00");
    expect(formatTime("2026-03-29T00:30:00Z", "Europe/Berlin", "time")).toBe("01:30:00");
    expect(formatTime("2026-03-29T01:30:00Z", "Europe/Berlin", "time")).toBe("03:30:00");
  });
  it("rejects unknown zones and treats bad instants as unknown", () => {
    expect(isValidZone("Mars/Olympus")).toBe(false);
    expect(isValidZone("Europe/Paris")).toBe(true);
    expect(isValidZone("local")).toBe(true);
    expect(formatTime("not a date", "UTC")).toBe("—");
    expect(formatTime(null, "UTC")).toBe("—");
  });
  it("lists zones by their current names (Kolkata, not Calcutta)", () => {
    const zones = zoneNames();
    expect(zones.slice(0, 2)).toEqual(["local", "UTC"]);
    expect(zones).toContain("Asia/Kolkata");
    expect(zones).toContain("Europe/Kyiv");
    expect(zones).not.toContain("Asia/Calcutta");
    expect(zones).toContain("Europe/Berlin");
    expect(new Set(zones).size).toBe(zones.length);
  });
  it("says how long ago", () => {
    const now = new Date("2026-11-27T12:00:00Z");
    expect(formatAgo("2026-11-27T11:59:30Z", now)).toBe("just now");
    expect(formatAgo("2026-11-27T11:55:00Z", now)).toBe("5 min ago");
    expect(formatAgo("2026-11-27T09:00:00Z", now)).toBe("3 h ago");
    expect(formatAgo("2026-11-25T12:00:00Z", now)).toBe("2 d ago");
  });
});

describe("delta", () => {
  it("gives rates in percentage points, good when higher is better", () => {
    const d = delta(0.95, 0.9, "rate", "higher");
    expect(d.text).toBe("+5.0 pp");
    expect(d.direction).toBe("up");
    expect(d.good).toBe(true);
    expect(d.label).toBe("up 5.0 pp vs previous period");
  });
  it("gives other values relative to the previous one, bad when lower is better and it rose", () => {
    const d = delta(130, 100, "relative", "lower");
    expect(d.text).toBe("+30%");
    expect(d.good).toBe(false);
    expect(delta(95, 100, "relative", "lower")).toMatchObject({ text: "−5.0%", direction: "down", good: true });
  });
  it("handles nothing before, nothing now and no change", () => {
    expect(delta(5, 0, "relative", "higher")).toMatchObject({ text: "new", good: null });
    expect(delta(0, 0, "relative", "higher")).toMatchObject({ text: "±0%", direction: "flat" });
    expect(delta(3, null, "relative", "higher")).toMatchObject({ text: "new" });
    expect(delta(null, 3, "relative", "higher")).toMatchObject({ text: null });
    expect(delta(0.5, 0.5, "rate", "higher")).toMatchObject({ text: "±0.0 pp", good: null });
  });
  it("names what the change is against", () => {
    expect(delta(2, 4, "relative", "lower", "previous 24 h").label).toBe("down 50% vs previous 24 h");
    expect(delta(2, 0, "relative", "lower", "previous 24 h").label).toBe("none in the previous 24 h");
    expect(delta(2, null, "relative", "lower", "previous 24 h").label).toBe("no data for the previous 24 h");
  });
});
