import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import {
  formatMinutes,
  formatMoney,
  formatNumber,
  labelsParam,
  labelsText,
  priceRows,
  pricesOf,
  samePrices,
  selectedLabels,
  sparkGrain,
  usageGroupName,
  waitedSeconds,
  waitingLongest,
} from "./insight";

function pool(labels: string[], patch: Partial<Schemas["RunnerPool"]> = {}): Schemas["RunnerPool"] {
  return {
    labels,
    queued: 0,
    running: 0,
    stale: 0,
    jobs: 0,
    busy_avg: 0,
    busy_max: 0,
    billable_minutes: 0,
    cost: 0,
    ...patch,
  };
}

function waiting(id: string, queuedAt: string): Schemas["WaitingJob"] {
  return {
    job_id: id,
    run_id: `run-${id}`,
    name: id,
    repo: "acme/api",
    workflow: "ci",
    queued_at: queuedAt,
    waiting_seconds: 60,
  };
}

describe("label sets", () => {
  it("join for the API and read for people; no labels is a set too", () => {
    expect(labelsParam(["gpu", "self-hosted"])).toBe("gpu,self-hosted");
    expect(labelsText(["gpu", "self-hosted"])).toBe("gpu, self-hosted");
    expect(labelsParam([])).toBe("");
    expect(labelsText([])).toBe("no labels");
  });

  it("choose the URL's pool, else the first (busiest) one", () => {
    const pools = [pool(["gpu"], { queued: 3 }), pool(["linux"])];
    expect(selectedLabels(pools, undefined)).toBe("gpu");
    expect(selectedLabels(pools, "linux")).toBe("linux");
    expect(selectedLabels(pools, "")).toBe("");
    expect(selectedLabels([], undefined)).toBeUndefined();
  });
});

describe("figures", () => {
  it("write minutes and numbers with at most one decimal", () => {
    expect(formatNumber(2.54)).toBe("2.5");
    expect(formatNumber(1234.4)).toBe("1,234");
    expect(formatNumber(null)).toBe("—");
    expect(formatMinutes(0.5)).toBe("0.5 min");
    expect(formatMinutes(1500)).toBe("1,500 min");
    expect(formatMinutes(Number.NaN)).toBe("—");
  });

  it("write money in its currency, small amounts to the price table's precision", () => {
    expect(formatMoney(12.4, "USD")).toBe("$12.40");
    expect(formatMoney(0.016, "USD")).toBe("$0.016");
    expect(formatMoney(0.00125, "USD")).toBe("$0.0013");
    expect(formatMoney(0, "EUR")).toBe("€0.00");
    expect(formatMoney(3, "credits")).toBe("3.00 credits");
    expect(formatMoney(null, "USD")).toBe("—");
  });

  it("name a usage row by what it is grouped by", () => {
    const row = { repo: "acme/api", workflow: "ci", labels: ["gpu", "self-hosted"] };
    expect(usageGroupName(row, "repo")).toBe("acme/api");
    expect(usageGroupName(row, "workflow")).toBe("acme/api · ci");
    expect(usageGroupName(row, "labels")).toBe("gpu, self-hosted");
    expect(usageGroupName({ labels: [] }, "labels")).toBe("no labels");
  });

  it("give sparklines about a week to two days of points", () => {
    const hour = 3_600_000;
    expect(sparkGrain(24 * hour)).toBe("hour");
    expect(sparkGrain(7 * 24 * hour)).toBe("day");
    expect(sparkGrain(30 * 24 * hour)).toBe("day");
    expect(sparkGrain(200 * 24 * hour)).toBe("week");
  });
});

describe("the waiting list", () => {
  it("puts each pool's oldest queued job in order of waiting, longest first", () => {
    const list = waitingLongest([
      pool(["linux"], { oldest_queued: waiting("b", "2026-11-27T10:05:00Z") }),
      pool(["idle"]),
      pool(["gpu"], { oldest_queued: waiting("a", "2026-11-27T09:00:00Z") }),
    ]);
    expect(list.map((j) => [j.job_id, j.labels])).toEqual([
      ["a", ["gpu"]],
      ["b", ["linux"]],
    ]);
  });

  it("counts the wait on the page's clock, never less than the server said", () => {
    const job = waiting("a", "2026-11-27T10:00:00Z");
    expect(waitedSeconds(job, Date.parse("2026-11-27T10:10:00Z"))).toBe(600);
    // A browser clock behind the server's: the server's figure.
    expect(waitedSeconds(job, Date.parse("2026-11-27T09:59:00Z"))).toBe(60);
  });
});

describe("the price table's form", () => {
  it("lists the stored prices by label", () => {
    expect(priceRows({ "ubuntu-latest": 0.008, gpu: 0.12 })).toEqual([
      { label: "gpu", price: "0.12" },
      { label: "ubuntu-latest", price: "0.008" },
    ]);
    expect(priceRows(undefined)).toEqual([]);
  });

  it("reads labels as jobs' labels are stored and leaves blank rows out", () => {
    expect(
      pricesOf([
        { label: " GPU ", price: "0.12" },
        { label: "", price: "" },
        { label: "macos-14", price: "0" },
      ]),
    ).toEqual({ prices: { gpu: 0.12, "macos-14": 0 }, errors: null });
  });

  it("says what is wrong with each row", () => {
    const result = pricesOf([
      { label: "gpu", price: "0.1" },
      { label: "GPU", price: "0.2" },
      { label: "linux,x64", price: "0.1" },
      { label: "", price: "0.3" },
      { label: "arm", price: "-1" },
      { label: "win", price: "" },
    ]);
    expect(result.prices).toBeNull();
    expect(Object.keys(result.errors!)).toEqual(["1", "2", "3", "4", "5"]);
    expect(result.errors![1]).toContain("row 1");
    expect(result.errors![2]).toContain("commas");
  });

  it("compares price tables", () => {
    expect(samePrices({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(samePrices({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(samePrices({ a: 1 }, { a: 2 })).toBe(false);
    expect(samePrices({}, undefined)).toBe(true);
  });
});
