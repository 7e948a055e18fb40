import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, waitFor } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import type { Run } from "../api/client";
import { RunsTable } from "./RunsTable";

afterEach(() => vi.unstubAllGlobals());

function run(i: number): Run {
  const at = new Date(Date.UTC(2026, 10, 27, 12, 0, 0) - i * 60_000).toISOString();
  return {
    id: `run-${i}`,
    repo: "org/app",
    workflow: "ci",
    branch: "main",
    status: "success",
    started_at: at,
    finished_at: at,
    duration_seconds: 60,
    created_at: at,
  } as Run;
}

it("shows every loaded run, and highlights only a run that arrives after", async () => {
  let runs = Array.from({ length: 50 }, (_, i) => run(i + 1));
  vi.stubGlobal(
    "fetch",
    vi.fn(() =>
      Promise.resolve(
        new Response(JSON.stringify({ runs, next_cursor: null }), { headers: { "Content-Type": "application/json" } }),
      ),
    ),
  );
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const { container } = render(
    <QueryClientProvider client={client}>
      <RunsTable view={{ page: "dashboard", range: "7d", sort: "newest" }} onView={() => {}} onOpen={() => {}} />
    </QueryClientProvider>,
  );
  const rows = () => [...container.querySelectorAll<HTMLTableRowElement>("tr[data-run-id]")];
  // The first paint has the first rows; every loaded one follows.
  await waitFor(() => expect(rows()).toHaveLength(50));
  expect(rows().filter((r) => r.classList.contains("fresh"))).toHaveLength(0);

  runs = [run(0), ...runs];
  await client.invalidateQueries();
  await waitFor(() => expect(rows()).toHaveLength(51));
  expect(
    rows()
      .filter((r) => r.classList.contains("fresh"))
      .map((r) => r.dataset.runId),
  ).toEqual(["run-0"]);
});
