import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { View } from "../lib/url";
import { ApiError, tokenStore } from "./client";
import { coalesce, prefetchFirstScreen, useLiveUpdates } from "./hooks";
import {
  downloadUsageCsv,
  jobSeriesParams,
  jobsParams,
  runnerSeriesParams,
  usageCsvName,
  usageCsvPath,
  usageParams,
  useRunners,
} from "./insight";

const now = new Date("2026-11-27T10:20:00Z");
const view: View = { page: "jobs", range: "24h", sort: "newest", tz: "Europe/Berlin" };

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  tokenStore.set(null);
});

describe("query parameters", () => {
  it("page the jobs in the server's order, with the page's filters and window", () => {
    expect(jobsParams({ ...view, repo: "acme/api", branch: "main", jobSort: "queue", jobsPage: 3 }, now)).toEqual({
      from: "2026-11-26T11:00:00.000Z",
      to: "2026-11-27T11:00:00.000Z",
      tz: "Europe/Berlin",
      sort: "queue",
      limit: 25,
      offset: 50,
      repo: "acme/api",
      branch: "main",
    });
    expect(jobsParams({ ...view, page: "jobs" }, now)).toMatchObject({ sort: "slowest", offset: 0 });
  });

  it("ask for a job's or a pool's series at the view's grain, or the one given", () => {
    const job = { repo: "acme/api", workflow: "ci", job: "test" };
    expect(jobSeriesParams(view, job, now)).toMatchObject({ group_by: "hour", repo: "acme/api", job: "test" });
    expect(jobSeriesParams({ ...view, range: "30d" }, job, now, "week").group_by).toBe("week");
    expect(runnerSeriesParams(view, "", now)).toMatchObject({ labels: "", group_by: "hour" });
  });

  it("give the CSV the same parameters as the figures on screen, and a name that says what it holds", () => {
    const params = usageParams({ ...view, page: "usage", usageBy: "workflow", repo: "acme/api" }, now);
    const url = new URL(usageCsvPath(params), "http://x");
    expect(url.pathname).toBe("/api/usage");
    expect(Object.fromEntries(url.searchParams)).toEqual({ ...params, format: "csv" });
    expect(usageCsvName(params)).toBe("usage-by-workflow-acme_api-2026-11-26-2026-11-27.csv");
    // Label sets span every repository: the API takes no repository with them.
    const labels = usageParams({ ...view, page: "usage", usageBy: "labels", repo: "acme/api" }, now);
    expect([labels.group_by, "repo" in labels]).toEqual(["labels", false]);
    expect(usageCsvName(labels)).toBe("usage-by-labels-2026-11-26-2026-11-27.csv");
  });
});

describe("the usage CSV", () => {
  it("is fetched with the tab's token and saved as a file", async () => {
    tokenStore.set("cicd_read");
    const fetch = vi.fn((_url: URL, _init: RequestInit) =>
      Promise.resolve(
        new Response("group,day,minutes\nacme/api,2026-11-27,3\n", { headers: { "Content-Type": "text/csv" } }),
      ),
    );
    vi.stubGlobal("fetch", fetch);
    // jsdom has no object URLs: these stand in for the browser's.
    const created = vi.fn((_blob: Blob) => "blob:usage");
    URL.createObjectURL = created;
    URL.revokeObjectURL = vi.fn();
    const clicked: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });
    const params = usageParams({ ...view, page: "usage" }, now);
    await downloadUsageCsv(params);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url.searchParams.get("format")).toBe("csv");
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer cicd_read");
    expect(await created.mock.calls[0]![0].text()).toContain("acme/api,2026-11-27,3");
    expect(clicked.map((a) => [a.getAttribute("href"), a.download])).toEqual([["blob:usage", usageCsvName(params)]]);
    expect(document.querySelector("a[download]")).toBeNull();
  });

  it("fails with the API's error, so that a token can be asked for", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(() =>
        Promise.resolve(
          new Response(JSON.stringify({ error: { code: "unauthorized", message: "A token is needed." } }), {
            status: 401,
            headers: { "Content-Type": "application/json" },
          }),
        ),
      ),
    );
    const error = await downloadUsageCsv(usageParams({ ...view, page: "usage" }, now)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect([(error as ApiError).status, (error as ApiError).needsToken, (error as ApiError).message]).toEqual([
      401,
      true,
      "A token is needed.",
    ]);
  });
});

describe("the first screen", () => {
  it("asks for a page's main figures before the page's code has loaded", async () => {
    const asked: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn((req: Request) => {
        asked.push(new URL(req.url).pathname);
        return Promise.resolve(new Response("{}", { headers: { "Content-Type": "application/json" } }));
      }),
    );
    try {
      for (const [path, api] of [
        ["/runners", "/api/runners"],
        ["/jobs?order=failing", "/api/jobs"],
        ["/usage?by=labels", "/api/usage"],
        ["/tests", "/api/tests/flaky"],
        ["/tests?rank=slowest", "/api/tests"],
      ]) {
        window.history.pushState(null, "", path);
        asked.length = 0;
        await prefetchFirstScreen(new QueryClient());
        expect(asked.sort()).toEqual([api, "/api/config"].sort());
      }
    } finally {
      window.history.pushState(null, "", "/");
    }
  });
});

describe("live runner pools", () => {
  it("coalesces asks into one call per interval", () => {
    vi.useFakeTimers();
    try {
      const run = vi.fn();
      const [ask] = coalesce(run, 150);
      ask();
      ask();
      vi.advanceTimersByTime(149);
      expect(run).not.toHaveBeenCalled();
      ask();
      vi.advanceTimersByTime(1);
      expect(run).toHaveBeenCalledTimes(1);
      ask();
      vi.advanceTimersByTime(150);
      expect(run).toHaveBeenCalledTimes(2);
      const [again, cancel] = coalesce(run, 150);
      again();
      cancel();
      vi.advanceTimersByTime(500);
      expect(run).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("are loaded again when the stream says a pool changed", async () => {
    const encoder = new TextEncoder();
    let push: (text: string) => void = () => {};
    const pools = [{ queued: 1 }, { queued: 2 }];
    let served = 0;
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
      const queued = pools[Math.min(served++, pools.length - 1)]!.queued;
      const items = [
        {
          labels: ["gpu"],
          queued,
          running: 0,
          stale: 0,
          jobs: 0,
          busy_avg: 0,
          busy_max: 0,
          billable_minutes: 0,
          cost: 0,
        },
      ];
      return Promise.resolve(
        new Response(JSON.stringify({ from: "", to: "", stale_after_hours: 24, currency: "USD", items }), {
          headers: { "Content-Type": "application/json" },
        }),
      );
    });
    vi.stubGlobal("fetch", fetch);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
    const wrapper = ({ children }: { children: ReactNode }) => (
      <QueryClientProvider client={client}>{children}</QueryClientProvider>
    );
    const { result } = renderHook(
      () => ({ live: useLiveUpdates(), runners: useRunners({ ...view, page: "runners" }) }),
      { wrapper },
    );
    await waitFor(() => expect(result.current.live.state).toBe("live"));
    await waitFor(() => expect(result.current.runners.data?.items[0]?.queued).toBe(1));
    push('event: runners\ndata: {"labels": [["gpu"]]}\n\n');
    await waitFor(() => expect(result.current.runners.data?.items[0]?.queued).toBe(2));
    expect(served).toBe(2);
  });
});
