import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import type { View } from "../lib/url";
import { Delivery } from "./Delivery";
import { renderPage, serve } from "./testing";

// uPlot needs a canvas: the charts are drawn in the browser tests; here, their summaries.
vi.mock("../components/SeriesChart", () => ({
  SeriesChart: ({ title, summary, head }: { title: string; summary: string; head?: ReactNode }) => (
    <figure aria-label={title}>
      {head}
      <figcaption>{summary}</figcaption>
    </figure>
  ),
}));

afterEach(() => vi.unstubAllGlobals());

type Key = Schemas["DoraKey"];

const series = (values: (number | null)[]) =>
  values.map((value, i) => ({ start: `2026-11-0${i + 1}T00:00:00Z`, value, sample: value == null ? 0 : 1 }));

function key(patch: Partial<Key> & { values?: (number | null)[] }): Key {
  const { values = [null, null], ...rest } = patch;
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
  production_environments: ["production", "prod-*"],
  change_failure_causes: ["failed_deployment", "incident"],
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
  lead_time_for_changes: key({ value: 5400, p95: 2 * 86_400, band: "elite", sample: 4, values: [3600, 7200] }),
  change_failure_rate: key({
    unit: "ratio",
    value: 1 / 3,
    band: "low",
    sample: 3,
    previous: { value: 0.25, band: "low", sample: 4 },
    values: [0.5, 0],
  }),
  time_to_restore: key({ value: 2700, p95: 2700, band: "elite", sample: 1, values: [2700, null] }),
};

const incident = (patch: Partial<Schemas["ProductionIncident"]> = {}): Schemas["ProductionIncident"] => ({
  id: 5,
  source: "generic",
  external_id: "INC-5",
  service: "api",
  environment: "production",
  deployment_id: 12,
  link: "named",
  title: "Checkout errors",
  url: "https://status.example.com/INC-5",
  started_at: "2026-11-02T11:00:00Z",
  resolved_at: "2026-11-02T11:45:00Z",
  ...patch,
});

function deployment(id: number, patch: Partial<Schemas["Deployment"]> = {}): Schemas["Deployment"] {
  return {
    id,
    source: "generic",
    external_id: `deploy-${id}`,
    service: "api",
    environment: "production",
    repo: "acme/api",
    sha: "9fceb02d0ae598e95dc970b74767f19372d61af8",
    ref: "main",
    creator: "ada",
    run_id: `github:acme/api:${id}:1`,
    kind: "deploy",
    status: "success",
    created_at: `2026-11-02T${10 + (id % 10)}:00:00Z`,
    finished_at: `2026-11-02T${10 + (id % 10)}:05:00Z`,
    commit_count: 0,
    commits: [],
    incidents: [],
    ...patch,
  };
}

const first: Schemas["DeploymentPage"] = {
  deployments: [
    deployment(13, { kind: "rollback" }),
    deployment(12, {
      commit_count: 3,
      commits: [
        { sha: "aaaaaaa1111", committed_at: "2026-11-01T10:00:00Z", lead_seconds: 90_000 },
        { sha: "bbbbbbb2222", merged_at: "2026-11-02T09:00:00Z", lead_seconds: 7200 },
      ],
      incidents: [incident()],
    }),
    deployment(11, { status: "failure", finished_at: "2026-11-02T11:02:00Z" }),
  ],
  next_cursor: "c2",
};
const second: Schemas["DeploymentPage"] = { deployments: [deployment(10)] };

function routes(extra: Record<string, (url: URL) => unknown> = {}) {
  return serve({
    "/api/dora": () => dora,
    "/api/deployments": (url) => {
      // The filters' suggestions: every deployment of the window.
      if (url.searchParams.get("limit") === "200") {
        return { deployments: [deployment(1, { service: "web", environment: "staging" }), deployment(2)] };
      }
      return url.searchParams.get("cursor") === "c2" ? second : first;
    },
    "/api/incidents": () => ({
      incidents: [
        incident(),
        incident({ id: 6, external_id: "INC-6", title: null, resolved_at: null, deployment_id: null, link: null }),
      ],
    }),
    "/api/filters": () => ({ providers: [], repos: [], workflows: [], branches: [] }),
    ...extra,
  });
}

const base: View = { page: "delivery", range: "7d", sort: "newest" };

function show(view: View, onView = vi.fn()) {
  renderPage(<Delivery view={view} onView={onView} theme="light" />);
  return onView;
}

it("shows the four keys with their bands, the period before and their trends", async () => {
  const asked = routes();
  const onView = show(base);
  expect((await screen.findByTestId("dora-deployment_frequency")).textContent).toBe("1.5/day");
  const keys = screen.getByRole("region", { name: "DORA keys" });
  const freq = within(keys).getByRole("article", { name: "Deployment frequency" });
  expect(within(freq).getByText("Elite").dataset.band).toBe("elite");
  expect(freq.textContent).toContain("10.5/week · from 3 successful deployments");
  expect(within(freq).getByLabelText("up 200% vs previous period").className).toContain("good");
  expect(screen.getByTestId("dora-deployment_frequency-previous").textContent).toBe(
    "0.5/day in the previous period (high)",
  );
  const cfr = within(keys).getByRole("article", { name: "Change failure rate" });
  expect(within(cfr).getByText("Low").className).toBe("band low");
  expect(screen.getByTestId("dora-change_failure_rate").textContent).toBe("33.3%");
  expect(within(cfr).getByLabelText("up 8.3 pp vs previous period").className).toContain("bad");
  expect(screen.getByTestId("dora-lead_time_for_changes").textContent).toBe("1h 30m");
  expect(within(keys).getByRole("article", { name: "Lead time for changes" }).textContent).toContain("p95 2d");
  expect(screen.getByTestId("dora-time_to_restore").textContent).toBe("45m 00s");
  expect(within(keys).getByRole("img", { name: "Lead time for changes per day" })).toBeTruthy();
  expect(screen.getByText(/production environments: production, prod-\*/).textContent).toContain(
    "Failed changes: failed deployments, incidents",
  );
  // A trend per key, and the grain in the URL.
  const trends = screen.getByRole("region", { name: "Trends" });
  expect(within(trends).getByRole("figure", { name: "Change failure rate" }).textContent).toContain(
    "Change failure rate per day: 33.3% over the window (low), from 3 deployments.",
  );
  fireEvent.click(within(trends).getByRole("button", { name: "week" }));
  expect(onView).toHaveBeenLastCalledWith({ group: "week" });

  const query = asked.find((u) => u.pathname === "/api/dora")!.searchParams;
  expect(query.get("group_by")).toBe("day");
  expect(query.get("tz")).toBeTruthy();
  expect(query.get("service")).toBeNull();
  const list = asked.find((u) => u.pathname === "/api/deployments" && u.searchParams.get("limit") === "50")!;
  expect([list.searchParams.get("production"), list.searchParams.get("from")]).toEqual(["true", query.get("from")]);
});

it("lists the deployments per environment, newest first and marked, pages them, and opens one", async () => {
  const asked = routes();
  const onView = show(base);
  const table = await screen.findByRole("table", { name: /^production/ });
  const rows = () => within(table).getAllByRole("row").slice(1);
  expect(rows().map((r) => r.dataset.deploymentId)).toEqual(["13", "12", "11"]);
  expect(within(rows()[0]!).getByText("rollback").className).toBe("pill warn");
  expect(within(rows()[1]!).getByText("1 incident").className).toBe("pill bad");
  expect(rows()[1]!.textContent).toContain("1d 1h");
  expect(within(rows()[2]!).getByText("failed")).toBeTruthy();
  expect(within(rows()[2]!).getByText("failure")).toBeTruthy();
  expect(rows()[2]!.textContent).toContain("2m 00s");

  fireEvent.click(screen.getByRole("button", { name: "Load more deployments" }));
  await waitFor(() => expect(rows().map((r) => r.dataset.deploymentId)).toEqual(["13", "12", "11", "10"]));
  expect(asked.some((u) => u.pathname === "/api/deployments" && u.searchParams.get("cursor") === "c2")).toBe(true);
  expect(screen.queryByRole("button", { name: "Load more deployments" })).toBeNull();

  fireEvent.click(rows()[1]!);
  expect(onView).toHaveBeenLastCalledWith({ deployment: 12 }, true);
  fireEvent.click(screen.getByRole("button", { name: "All environments" }));
  expect(onView).toHaveBeenLastCalledWith({ envs: "all" });

  // The incidents in production, each with its deployment.
  const incidents = screen.getByRole("table", { name: "Incidents in production" });
  const [named, open] = within(incidents).getAllByRole("row").slice(1);
  expect(within(named!).getByRole("link", { name: "Checkout errors" }).getAttribute("href")).toBe(
    "https://status.example.com/INC-5",
  );
  expect(named!.textContent).toContain("45m 00s");
  expect(within(open!).getByText("open").className).toBe("pill bad");
  expect(open!.textContent).toContain("INC-6");
  expect(open!.textContent).toContain("not linked");
  fireEvent.click(within(named!).getByRole("button", { name: "Open the deployment of Checkout errors" }));
  expect(onView).toHaveBeenLastCalledWith({ deployment: 12 }, true);
});

it("opens a deployment's panel: its commits and lead times, its run and its incidents", async () => {
  routes();
  const onView = show({ ...base, deployment: 12 });
  const panel = await screen.findByRole("dialog", { name: "Deployment of api to production" });
  expect(within(panel).getByText("ada")).toBeTruthy();
  const commits = within(panel).getByRole("table", { name: "Commits (3)" });
  const rows = within(commits).getAllByRole("row").slice(1);
  expect(rows.map((r) => r.dataset.sha)).toEqual(["aaaaaaa1111", "bbbbbbb2222"]);
  expect(rows[0]!.textContent).toContain("1d 1h");
  expect(rows[1]!.textContent).toContain("2h 00m");
  expect(within(panel).getByText("The 2 with the longest lead time of 3.")).toBeTruthy();
  const incidents = within(panel).getByRole("heading", { name: "Incidents (1)" }).parentElement!;
  expect(within(incidents).getByText("named").getAttribute("title")).toContain("named this deployment");
  expect(incidents.textContent).toContain("restored in 45m 00s");
  fireEvent.click(within(panel).getByRole("button", { name: "Open run github:acme/api:12:1" }));
  expect(onView).toHaveBeenLastCalledWith({ run: "github:acme/api:12:1" }, true);
  fireEvent.keyDown(window, { key: "Escape" });
  expect(onView).toHaveBeenLastCalledWith({ deployment: undefined }, true);
});

it("finds an incident's deployment made before the window near the incident", async () => {
  const asked = routes({
    "/api/incidents": () => ({ incidents: [incident({ deployment_id: 3, link: "inferred" })] }),
  });
  // Deployments of the service before the incident started: the one it names among them.
  const original = globalThis.fetch;
  vi.stubGlobal(
    "fetch",
    vi.fn(async (req: Request) => {
      const url = new URL(req.url);
      if (url.pathname === "/api/deployments" && url.searchParams.get("service") === "api") {
        asked.push(url);
        return new Response(JSON.stringify({ deployments: [deployment(3, { created_at: "2026-10-20T10:00:00Z" })] }), {
          headers: { "Content-Type": "application/json" },
        });
      }
      return original(req);
    }),
  );
  show({ ...base, deployment: 3 });
  const panel = await screen.findByRole("dialog", { name: "Deployment of api to production" });
  expect(panel.textContent).toContain("deploy-3");
  const near = asked.find((u) => u.searchParams.get("service") === "api")!.searchParams;
  expect([near.get("environment"), near.get("to")]).toEqual(["production", "2026-11-02T11:00:00.001Z"]);
});

it("says so when the open deployment is not listed", async () => {
  routes();
  show({ ...base, deployment: 77 });
  const panel = await screen.findByRole("dialog", { name: "Deployment 77" });
  await waitFor(() => expect(panel.textContent).toContain("is not among the deployments listed"));
});

it("filters by service and environment, suggesting those deployed to", async () => {
  const asked = routes();
  const onView = show(base);
  await screen.findByTestId("dora-deployment_frequency");
  await waitFor(() =>
    expect(
      Array.from(document.querySelectorAll("#delivery-services option")).map((o) => o.getAttribute("value")),
    ).toEqual(["api", "web"]),
  );
  // The production environments named exactly, and those deployed to.
  expect(
    Array.from(document.querySelectorAll("#delivery-environments option")).map((o) => o.getAttribute("value")),
  ).toEqual(["production", "staging"]);
  const apply = screen.getByRole<HTMLButtonElement>("button", { name: "Apply" });
  expect(apply.disabled).toBe(true);
  fireEvent.change(screen.getByLabelText("Service"), { target: { value: " api " } });
  await act(() => Promise.resolve(fireEvent.click(apply)));
  expect(onView).toHaveBeenLastCalledWith({ service: "api", environment: undefined, deployment: undefined });
  expect(asked.filter((u) => u.pathname === "/api/dora")).toHaveLength(1);
});

it("asks for the view's service and environment", async () => {
  const asked = routes();
  const onView = show({ ...base, service: "api", environment: "staging" });
  await screen.findByTestId("dora-deployment_frequency");
  const doraQuery = asked.find((u) => u.pathname === "/api/dora")!.searchParams;
  expect([doraQuery.get("service"), doraQuery.get("environment")]).toEqual(["api", "staging"]);
  const list = asked.find((u) => u.pathname === "/api/deployments" && u.searchParams.get("limit") === "50")!;
  expect([list.searchParams.get("environment"), list.searchParams.get("production")]).toEqual(["staging", null]);
  // One environment: no choice of environments to show.
  expect(screen.queryByRole("button", { name: "All environments" })).toBeNull();
  fireEvent.click(screen.getByRole("button", { name: "Clear service and environment" }));
  expect(onView).toHaveBeenLastCalledWith({ service: undefined, environment: undefined, deployment: undefined });
});
