import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { View } from "../lib/url";
import type { Schemas } from "./client";
import { useLiveUpdates } from "./hooks";
import { flakyParams, testsParams, useFlakyTests, useRunTests } from "./tests";

const now = new Date("2026-11-27T10:20:00Z");
const view: View = { page: "tests", range: "24h", sort: "newest", tz: "Europe/Berlin" };

afterEach(() => vi.unstubAllGlobals());

describe("query parameters", () => {
  it("narrow every ranking by the page's filters and search", () => {
    const filtered: View = { ...view, repo: "acme/api", workflow: "ci", branch: "main", testSearch: "login" };
    const filters = { repo: "acme/api", workflow: "ci", branch: "main", q: "login" };
    expect(flakyParams({ ...filtered, testsPage: 2 }, now)).toEqual({
      from: "2026-11-26T11:00:00.000Z",
      to: "2026-11-27T11:00:00.000Z",
      tz: "Europe/Berlin",
      limit: 25,
      offset: 25,
      ...filters,
    });
    expect(testsParams({ ...filtered, testRank: "slowest" }, now)).toMatchObject({ sort: "slowest", ...filters });
    expect(flakyParams(view, now)).not.toHaveProperty("q");
  });
});

describe("live test results", () => {
  it("load a run's tests again at once on a `tests` event, and the rankings once a second at most", async () => {
    const encoder = new TextEncoder();
    let push: (text: string) => void = () => {};
    const asked: Record<string, number> = {};
    const summary: Schemas["TestCounts"] = { tests: 2, failed: 1, errors: 0, flaky: 0, skipped: 0, passed: 1 };
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    const fetch = vi.fn((input: Request | URL | string) => {
      const url = new URL(input instanceof Request ? input.url : input.toString(), "http://localhost");
      if (url.pathname === "/api/stream") {
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            push = (text) => controller.enqueue(encoder.encode(text));
            push('event: hello\ndata: {"live": true}\n\n');
          },
        });
        return Promise.resolve(new Response(body, { headers: { "Content-Type": "text/event-stream" } }));
      }
      const n = (asked[url.pathname] = (asked[url.pathname] ?? 0) + 1);
      if (url.pathname === "/api/tests/flaky") return Promise.resolve(json({ from: "", to: "", tests: [], total: 0 }));
      // run-1's report arrives after the first look: the API's 404 until then.
      if (url.pathname === "/api/runs/run-1/tests" && n === 1)
        return Promise.resolve(json({ error: { code: "not_found", message: "no test results" } }, 404));
      const tests: Schemas["RunTests"] = { cases: [], reports: 1, summary, truncated: false };
      return Promise.resolve(json(tests));
    });
    vi.stubGlobal("fetch", fetch);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
    const wrapper = ({ children }: { children: ReactNode }) => (
      <QueryClientProvider client={client}>{children}</QueryClientProvider>
    );
    const { result } = renderHook(
      () => ({
        live: useLiveUpdates(),
        run: useRunTests("run-1"),
        other: useRunTests("run-2"),
        flaky: useFlakyTests(view),
      }),
      { wrapper },
    );
    await waitFor(() => expect(result.current.live.state).toBe("live"));
    await waitFor(() => expect([result.current.run.data, result.current.flaky.isSuccess]).toEqual([null, true]));
    await waitFor(() => expect(result.current.other.isSuccess).toBe(true));

    // Two reports of the run (its jobs'), one after the other.
    const change: Schemas["TestsChange"] = { run_id: "run-1", repo: "acme/api" };
    push(`event: tests\ndata: ${JSON.stringify(change)}\n\n`);
    push(`event: tests\ndata: ${JSON.stringify(change)}\n\n`);
    await waitFor(() => expect(result.current.run.data?.summary.failed).toBe(1));
    // The rankings a second later, once for both reports.
    expect(asked["/api/tests/flaky"]).toBe(1);
    await waitFor(() => expect(asked["/api/tests/flaky"]).toBe(2), { timeout: 2_000 });
    // Only that run's tests.
    expect(asked["/api/runs/run-2/tests"]).toBe(1);
  });
});
