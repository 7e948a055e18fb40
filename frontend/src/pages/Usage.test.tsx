import { fireEvent, screen, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import type { View } from "../lib/url";
import { Usage } from "./Usage";
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

const fig = (billable_minutes: number, cost: number, jobs = 10) => ({
  billable_minutes,
  cost,
  jobs,
  minutes: billable_minutes,
});
const days = (a: number, b: number) => [
  { day: "2026-11-26T00:00:00Z", ...fig(a, a / 100) },
  { day: "2026-11-27T00:00:00Z", ...fig(b, b / 100) },
];

const usage: Schemas["Usage"] = {
  from: "2026-11-26T00:00:00Z",
  to: "2026-11-28T00:00:00Z",
  group_by: "workflow",
  currency: "EUR",
  total: fig(300, 3, 30),
  previous: fig(200, 4, 30),
  days: days(100, 200),
  groups: [
    { repo: "acme/api", workflow: "ci", ...fig(240, 2.4, 20), previous: fig(120, 1.2), days: days(80, 160) },
    { repo: "acme/web", workflow: "deploy", ...fig(60, 0.6, 10), previous: fig(80, 2.8), days: days(20, 40) },
  ],
};

function show(view: View, onView = vi.fn()) {
  const asked = serve({
    "/api/usage": () => usage,
    "/api/filters": () => ({ providers: [], repos: ["acme/api"], workflows: [], branches: [] }),
  });
  renderPage(<Usage view={view} onView={onView} theme="light" />);
  return { onView, asked };
}

it("shows the totals against the period before, the days and each group, and switches the grouping", async () => {
  const { onView, asked } = show({ page: "usage", range: "7d", sort: "newest", usageBy: "workflow", repo: "acme/api" });
  expect((await screen.findByTestId("usage-Billable minutes")).textContent).toBe("300 min");
  expect(screen.getByTestId("usage-Estimated cost").textContent).toBe("€3.00");
  const totals = screen.getByRole("region", { name: "Usage totals" });
  expect(within(totals).getByLabelText("up 50% vs previous period").className).toContain("bad");
  expect(within(totals).getByLabelText("down 25% vs previous period").className).toContain("good");
  expect(screen.getByRole("figure", { name: "Billable minutes per day" }).textContent).toContain(
    "300 min in all, €3.00; the most on 27 Nov: 200 min",
  );
  const table = screen.getByRole("table", { name: "By workflow" });
  const rows = within(table).getAllByRole("row");
  expect(rows.slice(1, 3).map((r) => r.dataset.group)).toEqual(["acme/api · ci", "acme/web · deploy"]);
  expect(within(rows[1]!).getByText("80.0%")).toBeTruthy();
  expect(within(rows[2]!).getByLabelText("down 79% vs previous period")).toBeTruthy();
  expect(within(rows[1]!).getByRole("img", { name: "Billable minutes of acme/api · ci per day" })).toBeTruthy();
  expect(within(rows[3]!).getByText("€3.00")).toBeTruthy();
  // Only the filters usage has: a repository and the time range.
  expect(screen.queryByLabelText("Workflow")).toBeNull();
  expect(screen.getByLabelText("Repository")).toBeTruthy();
  const query = asked.find((u) => u.pathname === "/api/usage")!.searchParams;
  expect([query.get("group_by"), query.get("repo")]).toEqual(["workflow", "acme/api"]);
  // The CSV link has the same parameters.
  const csv = new URL(screen.getByRole("link", { name: "Download CSV" }).getAttribute("href")!, "http://x");
  expect(Object.fromEntries(csv.searchParams)).toEqual({ ...Object.fromEntries(query), format: "csv" });
  fireEvent.click(screen.getByRole("button", { name: "Label set" }));
  expect(onView).toHaveBeenLastCalledWith({ usageBy: "labels" });
  fireEvent.click(screen.getByRole("button", { name: "Repository" }));
  expect(onView).toHaveBeenLastCalledWith({ usageBy: undefined });
});
