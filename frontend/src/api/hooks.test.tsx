import { QueryClient, QueryClientProvider, type InfiniteData } from "@tanstack/react-query";
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { View } from "../lib/url";
import { ApiError, tokenStore, type Run, type Schemas } from "./client";
import { applyRun, matchesView, useMetrics, useRuns } from "./hooks";
import { metricsParams, runsParams } from "./params";
import { keys } from "./keys";

const view: View = { page: "dashboard", range: "24h", sort: "newest", repo: "acme/api" };
const now = new Date("2026-11-27T10:20:00Z");

function run(id: string, patch: Partial<Run> = {}): Run {
  return {
    id,
    provider: "generic",
    workflow: "ci",
    repo: "acme/api",
    branch: "main",
    status: "success",
    attempt: 1,
    started_at: "2026-11-27T10:00:00Z",
    created_at: "2026-11-27T10:00:00Z",
    updated_at: "2026-11-27T10:05:00Z",
    ...patch,
  };
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function wrapper(client: QueryClient) {
  return ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>{children}</QueryClientProvider>
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  tokenStore.set(null);
});

describe("query parameters", () => {
  it("turn the view's filters and window into the API's parameters", () => {
    expect(metricsParams(view, now)).toEqual({
      from: "2026-11-26T11:00:00.000Z",
      to: "2026-11-27T11:00:00.000Z",
      group_by: "hour",
      limit: 0,
      repo: "acme/api",
      tz: Intl.DateTimeFormat().resolvedOptions().timeZone,
    });
    expect(metricsParams({ ...view, tz: "Europe/Berlin" }, now).tz).toBe("Europe/Berlin");
    expect(metricsParams({ ...view, tz: "Mars/Olympus" }, now).tz).toBe(
      Intl.DateTimeFormat().resolvedOptions().timeZone,
    );
    expect(runsParams({ ...view, status: "failure", sort: "slowest" }, now)).toMatchObject({
      status: "failure",
      sort: "slowest",
      limit: 50,
    });
  });
  it("match a run against them", () => {
    const p = runsParams(view, now);
    expect(matchesView(run("a"), p)).toBe(true);
    expect(matchesView(run("b", { repo: "acme/web" }), p)).toBe(false);
    expect(matchesView(run("c", { started_at: "2026-11-20T00:00:00Z" }), p)).toBe(false);
    expect(matchesView(run("d", { started_at: null, queued_at: "2026-11-27T10:10:00Z" }), p)).toBe(true);
  });
});

describe("live runs in cached lists", () => {
  function seeded(sort: View["sort"] = "newest") {
    const client = new QueryClient();
    const params = runsParams({ ...view, sort }, now);
    client.setQueryData<InfiniteData<Schemas["RunPage"]>>(keys.runs(params), {
      pages: [{ runs: [run("old-2"), run("old-1")] }],
      pageParams: [undefined],
    });
    const rows = () =>
      client
        .getQueryData<InfiniteData<Schemas["RunPage"]>>(keys.runs(params))!
        .pages[0]!.runs.map((r) => `${r.id}:${r.status}`);
    return { client, rows, params };
  }

  it("adds a new matching run on top and replaces a known one in place", () => {
    const { client, rows } = seeded();
    applyRun(client, run("new", { status: "running" }));
    expect(rows()).toEqual(["new:running", "old-2:success", "old-1:success"]);
    applyRun(client, run("old-1", { status: "failure" }));
    expect(rows()).toEqual(["new:running", "old-2:success", "old-1:failure"]);
  });

  it("leaves out runs of other filters, and drops a run that no longer matches", () => {
    const { client, rows } = seeded();
    applyRun(client, run("elsewhere", { repo: "acme/web" }));
    expect(rows()).toEqual(["old-2:success", "old-1:success"]);
    applyRun(client, run("old-2", { repo: "acme/web" }));
    expect(rows()).toEqual(["old-1:success"]);
  });

  it("refetches lists in other orders instead of guessing the position", () => {
    const { client, params } = seeded("slowest");
    const spy = vi.spyOn(client, "invalidateQueries");
    applyRun(client, run("new"));
    expect(spy).toHaveBeenCalledWith({ queryKey: keys.runs(params) });
  });
});

describe("data hooks", () => {
  it("load the metrics with the token of the session", async () => {
    tokenStore.set("cicd_test");
    const fetch = vi.fn((_req: Request) => Promise.resolve(json({ summary: { total_runs: 3 } })));
    vi.stubGlobal("fetch", fetch);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const { result } = renderHook(() => useMetrics(view), { wrapper: wrapper(client) });
    await waitFor(() => expect(result.current.isSuccess).toBe(true));
    const req = fetch.mock.calls[0]![0];
    expect(new URL(req.url).pathname).toBe("/api/metrics");
    expect(new URL(req.url).searchParams.get("repo")).toBe("acme/api");
    expect(new URL(req.url).searchParams.get("tz")).toBeTruthy();
    expect(req.headers.get("Authorization")).toBe("Bearer cicd_test");
  });

  it("turn the backend's error shape into an ApiError", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(() =>
        Promise.resolve(
          json(
            {
              error: {
                code: "validation_failed",
                message: "bad from",
                details: [{ field: "from", message: "must be before to" }],
              },
            },
            422,
          ),
        ),
      ),
    );
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const { result } = renderHook(() => useMetrics(view), { wrapper: wrapper(client) });
    await waitFor(() => expect(result.current.isError).toBe(true));
    const e = result.current.error as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.code, e.details[0]?.field, e.offline]).toEqual([422, "validation_failed", "from", false]);
  });

  it("report an unreachable backend as offline", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))),
    );
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const { result } = renderHook(() => useMetrics(view), { wrapper: wrapper(client) });
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect((result.current.error as ApiError).offline).toBe(true);
  });

  it("page through runs with the cursor", async () => {
    const fetch = vi.fn((req: Request) =>
      Promise.resolve(
        new URL(req.url).searchParams.get("cursor") === "c1"
          ? json({ runs: [run("b")], next_cursor: null })
          : json({ runs: [run("a")], next_cursor: "c1" }),
      ),
    );
    vi.stubGlobal("fetch", fetch);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const { result } = renderHook(() => useRuns(view), { wrapper: wrapper(client) });
    await waitFor(() => expect(result.current.hasNextPage).toBe(true));
    await result.current.fetchNextPage();
    await waitFor(() => expect(result.current.data?.pages.flatMap((p) => p.runs.map((r) => r.id))).toEqual(["a", "b"]));
    expect(result.current.hasNextPage).toBe(false);
  });
});
