import { fireEvent, screen, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import type { View } from "../lib/url";
import { Jobs } from "./Jobs";
import { renderPage, serve } from "./testing";

// uPlot needs a canvas: the charts are drawn in the browser tests; here, their summaries.
vi.mock("../components/SeriesChart", () => ({
  SeriesChart: ({ title, summary }: { title: string; summary: string }) => (
    <figure aria-label={title}>
      <figcaption>{summary}</figcaption>
    </figure>
  ),
}));

afterEach(() => vi.unstubAllGlobals());

const figures = {
  runs: 40,
  failures: 4,
  failure_rate: 0.1,
  duration_p50_seconds: 300,
  duration_p95_seconds: 600,
  queue_p50_seconds: 5,
  queue_p95_seconds: 40,
  billable_minutes: 220,
  cost: 1.76,
};

function job(name: string, patch: Partial<Schemas["JobStats"]> = {}): Schemas["JobStats"] {
  return {
    repo: "acme/api",
    workflow: "ci",
    job: name,
    labels: [["ubuntu-latest"]],
    ...figures,
    // 2 of its 4 failures passed when re-run.
    flaky: 2,
    flake_rate: 0.05,
    previous: { ...figures, duration_p95_seconds: 500, failure_rate: 0.2 },
    ...patch,
  };
}

const series = (url: URL): Schemas["JobSeries"] => ({
  repo: url.searchParams.get("repo")!,
  workflow: url.searchParams.get("workflow")!,
  job: url.searchParams.get("job")!,
  group_by: (url.searchParams.get("group_by") ?? "hour") as Schemas["Grain"],
  points: [
    { t: "2026-11-26T00:00:00Z", ...figures },
    // "build" ran on the first day only.
    url.searchParams.get("job") === "build"
      ? { t: "2026-11-27T00:00:00Z", ...figures, runs: 0, duration_p50_seconds: null }
      : { t: "2026-11-27T00:00:00Z", ...figures, duration_p50_seconds: 420 },
  ],
  slowest: [
    {
      run_id: "github:acme/api:7:1",
      job_id: "j7",
      status: "failure",
      started_at: "2026-11-27T09:00:00Z",
      duration_seconds: 900,
      queue_seconds: 12,
      branch: "main",
      url: "https://github.com/acme/api/actions/runs/7/job/1",
    },
  ],
});

function show(view: View, onView = vi.fn()) {
  renderPage(<Jobs view={view} onView={onView} theme="light" />);
  return onView;
}

const base: View = { page: "jobs", range: "7d", sort: "newest" };

it("lists the jobs in the server's order, with their figures, changes and sparklines, and pages", async () => {
  const asked = serve({
    "/api/filters": () => ({ providers: [], repos: ["acme/api"], workflows: [], branches: [] }),
    "/api/jobs": () => ({
      from: "",
      to: "",
      total: 60,
      currency: "USD",
      items: [job("test"), job("build", { flaky: 0, flake_rate: 0 })],
    }),
    "/api/jobs/timeseries": series,
  });
  const onView = show({ ...base, jobSort: "failing", jobsPage: 2 });
  const table = await screen.findByRole("table", { name: "Jobs" });
  const rows = within(table).getAllByRole("row").slice(1);
  expect(rows.map((r) => r.dataset.job)).toEqual(["test", "build"]);
  const first = within(rows[0]!);
  expect(first.getByText("10.0%")).toBeTruthy();
  // The flake rate beside the failure rate, with the flaky executions.
  const headers = within(table)
    .getAllByRole("columnheader")
    .map((h) => h.textContent);
  expect(headers.indexOf("Flake rate")).toBe(headers.findIndex((h) => h?.startsWith("Failure rate")) + 1);
  expect(first.getByText("5.0%")).toBeTruthy();
  expect(first.getByText("2 flaky")).toBeTruthy();
  expect(within(rows[1]!).getByText("0.0%")).toBeTruthy();
  expect(within(rows[1]!).queryByText(/flaky/)).toBeNull();
  expect(first.getByText("5m 00s / 10m 00s")).toBeTruthy();
  expect(first.getByText("$1.76")).toBeTruthy();
  expect(first.getByLabelText("down 10.0 pp vs previous period")).toBeTruthy();
  expect(first.getByLabelText("up 20% vs previous period")).toBeTruthy();
  // The sparkline: a day a point over a week.
  const spark = await first.findByRole("img", { name: "Median duration of test per day" });
  expect(spark.querySelector("path")?.getAttribute("d")).toMatch(/^M0\.0,.*L200\.0,/);
  // One period only: a dot where it is.
  const dot = await within(rows[1]!).findByRole("img", { name: "Median duration of build per day" });
  expect([dot.querySelector("path"), dot.querySelector("line.dot")?.getAttribute("x1")]).toEqual([null, "0"]);
  const list = asked.find((u) => u.pathname === "/api/jobs")!;
  expect([list.searchParams.get("sort"), list.searchParams.get("offset"), list.searchParams.get("limit")]).toEqual([
    "failing",
    "25",
    "25",
  ]);
  expect(
    asked.filter((u) => u.pathname === "/api/jobs/timeseries").map((u) => u.searchParams.get("group_by")),
  ).toContain("day");
  // The order the table follows is said on its column.
  expect(
    within(table)
      .getByRole("columnheader", { name: /Failure rate/ })
      .getAttribute("aria-sort"),
  ).toBe("descending");
  expect(screen.getByText(/Page 2 of 3/).textContent).toContain("jobs 26–50 of 60");

  fireEvent.click(screen.getByRole("button", { name: "Longest queue" }));
  expect(onView).toHaveBeenLastCalledWith({ jobSort: "queue" });
  fireEvent.click(screen.getByRole("button", { name: "Next →" }));
  expect(onView).toHaveBeenLastCalledWith({ jobsPage: 3 });
  fireEvent.click(screen.getByRole("button", { name: "← Previous" }));
  expect(onView).toHaveBeenLastCalledWith({ jobsPage: undefined });
  fireEvent.keyDown(rows[1]!, { key: "Enter" });
  expect(onView).toHaveBeenLastCalledWith({ job: { repo: "acme/api", workflow: "ci", job: "build" } });
});

it("opens a job's trend and its slowest runs, which open in the run panel", async () => {
  serve({
    "/api/filters": () => ({ providers: [], repos: [], workflows: [], branches: [] }),
    "/api/jobs": () => ({ from: "", to: "", total: 1, currency: "EUR", items: [job("test")] }),
    "/api/jobs/timeseries": series,
  });
  const onView = show({ ...base, job: { repo: "acme/api", workflow: "ci", job: "test" } });
  const trend = await screen.findByRole("region", { name: /^test/ });
  expect(await within(trend).findByRole("figure", { name: "Duration" })).toBeTruthy();
  expect(trend.textContent).toContain("40 runs, 10.0% failed, 5.0% flaky (passed on a re-run after failing");
  expect(within(trend).getByRole("figure", { name: "Queue time" }).textContent).toContain("p95 40s");
  expect(within(trend).getByRole("figure", { name: "Runs and failures" }).textContent).toContain("80 runs, 8 failed");
  const slowest = within(trend).getByRole("table", { name: "Slowest runs in this period" });
  expect(within(slowest).getByText("15m 00s")).toBeTruthy();
  expect(within(slowest).getByRole("link", { name: "Job in CI ↗" }).getAttribute("href")).toContain("/job/1");
  fireEvent.click(within(slowest).getByRole("button", { name: "Open run github:acme/api:7:1" }));
  expect(onView).toHaveBeenLastCalledWith({ run: "github:acme/api:7:1" }, true);
  expect(
    screen.getByRole("table", { name: "Jobs" }).querySelector<HTMLTableRowElement>("tr[aria-current='true']")?.dataset
      .job,
  ).toBe("test");
  fireEvent.click(within(trend).getByRole("button", { name: "Close the trend of test" }));
  expect(onView).toHaveBeenLastCalledWith({ job: undefined });
});

it("says where jobs come from when there are none", async () => {
  serve({
    "/api/filters": () => ({ providers: [], repos: [], workflows: [], branches: [] }),
    "/api/jobs": () => ({ from: "", to: "", total: 0, currency: "USD", items: [] }),
  });
  show(base);
  expect(await screen.findByText(/No finished jobs match/)).toBeTruthy();
  expect(screen.queryByRole("navigation", { name: "Pages of jobs" })).toBeNull();
});
