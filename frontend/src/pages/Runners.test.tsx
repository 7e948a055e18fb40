import { fireEvent, screen, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import type { View } from "../lib/url";
import { Runners } from "./Runners";
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

function pool(labels: string[], patch: Partial<Schemas["RunnerPool"]> = {}): Schemas["RunnerPool"] {
  return {
    labels,
    queued: 0,
    running: 0,
    stale: 0,
    jobs: 12,
    queue_p50_seconds: 20,
    queue_p95_seconds: 600,
    busy_avg: 1.5,
    busy_max: 4,
    billable_minutes: 90,
    cost: 0,
    ...patch,
  };
}

const queuedAt = new Date(Date.now() - 42 * 60_000).toISOString();
const runners: Schemas["Runners"] = {
  from: "",
  to: "",
  stale_after_hours: 24,
  currency: "USD",
  items: [
    pool(["gpu", "self-hosted"], {
      queued: 3,
      running: 1,
      stale: 2,
      oldest_queued: {
        job_id: "j1",
        run_id: "github:acme/ml:9:1",
        name: "train",
        repo: "acme/ml",
        workflow: "nightly",
        queued_at: queuedAt,
        waiting_seconds: 42 * 60,
        url: "https://github.com/acme/ml/actions/runs/9/job/1",
      },
    }),
    pool(["ubuntu-latest"], { running: 5 }),
    pool([]),
  ],
};

function show(view: View, onView = vi.fn()) {
  const asked = serve({
    "/api/runners": () => runners,
    "/api/runners/timeseries": (url) => ({
      labels: url.searchParams.get("labels")!.split(","),
      group_by: "hour",
      points: [],
    }),
    "/api/filters": () => ({ providers: [], repos: [], workflows: [], branches: [] }),
  });
  renderPage(<Runners view={view} onView={onView} theme="dark" />);
  return { onView, asked };
}

const base: View = { page: "runners", range: "24h", sort: "newest" };

it("shows a tile per pool with its jobs queued, running and stale now", async () => {
  const { onView, asked } = show(base);
  const gpu = await screen.findByRole("article", { name: "Pool gpu, self-hosted" });
  expect(within(gpu).getByTestId("queued-gpu,self-hosted").textContent).toBe("3");
  expect(within(gpu).getByTestId("running-gpu,self-hosted").textContent).toBe("1");
  expect(within(gpu).getByText("stale").previousElementSibling?.textContent).toBe("2");
  expect(within(gpu).getByText(/queue p95 10m 00s · busy max 4 · 12 jobs · 90 min/)).toBeTruthy();
  const ubuntu = screen.getByRole("article", { name: "Pool ubuntu-latest" });
  // Pools are not filtered by repository: only the time range.
  expect(screen.queryByLabelText("Repository")).toBeNull();
  expect(screen.getByRole("group", { name: "Time range" })).toBeTruthy();
  expect(within(ubuntu).queryByText("stale")).toBeNull();
  expect(screen.getByRole("article", { name: "Pool no labels" })).toBeTruthy();
  // With none chosen in the URL, the busiest pool's charts.
  expect(within(gpu).getByRole("button", { name: "gpu, self-hosted" }).getAttribute("aria-pressed")).toBe("true");
  expect(await screen.findByRole("figure", { name: "Queue time · gpu, self-hosted" })).toBeTruthy();
  expect(screen.getByRole("figure", { name: "Concurrency · gpu, self-hosted" }).textContent).toContain(
    "1.5 on average, 4 in the busiest minute",
  );
  expect(asked.find((u) => u.pathname === "/api/runners/timeseries")?.searchParams.get("labels")).toBe(
    "gpu,self-hosted",
  );
  fireEvent.click(within(ubuntu).getByRole("button", { name: "ubuntu-latest" }));
  expect(onView).toHaveBeenLastCalledWith({ labels: "ubuntu-latest" });
  fireEvent.click(screen.getByRole("button", { name: "no labels" }));
  expect(onView).toHaveBeenLastCalledWith({ labels: "" });
});

it("lists the jobs waiting longest, with their run, their job's trend and their CI page", async () => {
  const { onView } = show({ ...base, labels: "ubuntu-latest" });
  const list = await screen.findByRole("article", { name: "Waiting longest" });
  const item = within(list).getAllByRole("listitem");
  expect(item).toHaveLength(1);
  expect(item[0]!.textContent).toContain("42m");
  expect(item[0]!.textContent).toContain("train");
  expect(item[0]!.textContent).toContain("acme/ml · nightly · gpu, self-hosted");
  fireEvent.click(within(item[0]!).getByRole("button", { name: "Open the run of train" }));
  expect(onView).toHaveBeenLastCalledWith({ run: "github:acme/ml:9:1" }, true);
  const job = within(item[0]!).getByRole("link", { name: "The trend of train" });
  expect(job.getAttribute("href")).toBe("/jobs?range=24h&job_repo=acme%2Fml&job_workflow=nightly&job=train");
  fireEvent.click(job);
  expect(onView).toHaveBeenLastCalledWith({
    page: "jobs",
    job: { repo: "acme/ml", workflow: "nightly", job: "train" },
  });
  expect(within(item[0]!).getByRole("link", { name: "CI ↗" }).getAttribute("href")).toContain("/job/1");
  // The URL's pool is the one charted.
  expect(await screen.findByRole("figure", { name: "Queue time · ubuntu-latest" })).toBeTruthy();
});
