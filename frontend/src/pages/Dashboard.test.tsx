import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import { AuthProvider } from "../components/Auth";
import { BranchHealth } from "../components/BranchHealth";
import { Dashboard } from "./Dashboard";
import { renderPage, serve } from "./testing";

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

it("shows how to send the first run instead of empty charts", async () => {
  const empty: Record<string, unknown> = {
    "/api/filters": { providers: [], repos: [], workflows: [], branches: [] },
    "/api/alerts": [],
  };
  vi.stubGlobal(
    "fetch",
    vi.fn((req: Request) => {
      const known = empty[new URL(req.url).pathname];
      const body = known ?? { error: { code: "not_found", message: "unexpected" } };
      return Promise.resolve(
        new Response(JSON.stringify(body), {
          status: known === undefined ? 404 : 200,
          headers: { "Content-Type": "application/json" },
        }),
      );
    }),
  );
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Dashboard view={{ page: "dashboard", range: "7d", sort: "newest" }} onView={() => {}} theme="light" />
      </AuthProvider>
    </QueryClientProvider>,
  );
  expect(await screen.findByRole("heading", { name: /No runs yet/ })).toBeTruthy();
  expect(screen.getByText(/curl -X POST/).textContent).toContain("/api/events");
  expect(screen.getByText("/api/webhooks/github", { exact: false })).toBeTruthy();
  expect(screen.queryByRole("region", { name: "Charts" })).toBeNull();
});

const branch = (patch: Partial<Schemas["BranchHealth"]>): Schemas["BranchHealth"] => ({
  repo: "acme/api",
  branch: "main",
  default: true,
  runs: 40,
  failures: 4,
  recoveries: 2,
  time_to_green_p50_seconds: 1800,
  time_to_green_p95_seconds: 5400,
  red_share: 0.125,
  longest_red_seconds: 7200,
  red_since: null,
  ...patch,
});

it("shows each default branch's time to green, time red, longest red spell, and since when it is red", async () => {
  vi.useFakeTimers({ now: new Date("2026-11-27T12:00:00Z"), toFake: ["Date"] });
  const asked = serve({
    "/api/branches/health": () => ({
      from: "2026-11-20T12:00:00Z",
      to: "2026-11-27T13:00:00Z",
      branches: [
        branch({}),
        branch({
          repo: "acme/web",
          recoveries: 0,
          time_to_green_p50_seconds: null,
          time_to_green_p95_seconds: null,
          red_share: 0.5,
          red_since: "2026-11-27T09:30:00Z",
        }),
      ],
    }),
  });
  renderPage(<BranchHealth view={{ page: "dashboard", range: "7d", sort: "newest", repo: "acme/api" }} />);
  const table = await screen.findByRole("table", { name: "Default branches" });
  const [api, web] = within(table).getAllByRole("row").slice(1);
  expect(within(api!).getByRole("rowheader").textContent).toBe("acme/api · main");
  expect(within(api!).getByText("green")).toBeTruthy();
  expect(api!.textContent).toContain("30m 00s / 1h 30m (2 recoveries)");
  expect(api!.textContent).toContain("12.5%");
  expect(api!.textContent).toContain("2h 00m");
  expect(api!.textContent).toContain("4 of 40");
  expect(web!.dataset.red).toBe("true");
  expect(within(web!).getByText(/^red since/).textContent).toBe("red since 27 Nov, 09:30 (2h 30m)");
  expect(web!.textContent).toContain("— / —");
  expect(within(web!).getByRole("meter", { name: "Share of the period acme/web · main was red" })).toBeTruthy();
  const query = asked.find((u) => u.pathname === "/api/branches/health")!.searchParams;
  expect([query.get("default"), query.get("repo")]).toEqual(["true", "acme/api"]);
  expect(query.get("from")).toBe("2026-11-20T13:00:00.000Z");
});

it("says when no default branch ran", async () => {
  serve({ "/api/branches/health": () => ({ from: "2026-11-20T12:00:00Z", to: "2026-11-27T12:00:00Z", branches: [] }) });
  renderPage(<BranchHealth view={{ page: "dashboard", range: "7d", sort: "newest" }} />);
  expect(await screen.findByText("No finished runs on a default branch in this period.")).toBeTruthy();
});
