// Data hooks of the dashboard: the configuration, the filters' choices, metrics and runs, plus the
// live stream that keeps every cached resource fresh. Settings resources have a file each beside it.
import {
  keepPreviousData,
  type QueryKey,
  useInfiniteQuery,
  useQuery,
  useQueryClient,
  type InfiniteData,
  type QueryClient,
} from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { parseView, type View } from "../lib/url";
import { alertsQuery } from "./alerts";
import { doraQuery } from "./delivery";
import { api, call, type Filters, type Run, type Schemas } from "./client";
import { jobsQuery, runnersQuery, usageQuery } from "./insight";
import { keys } from "./keys";
import { metricsParams, runsParams } from "./params";
import { openStream, type StreamState } from "./stream";
import { prefetchRanking, TEST_FIGURES } from "./tests";

type RunPage = Schemas["RunPage"];

const configQuery = {
  queryKey: keys.config,
  queryFn: () => call(api.GET("/api/config")),
  staleTime: Infinity,
};

const filtersQuery = {
  queryKey: keys.filters,
  queryFn: () => call(api.GET("/api/filters")),
  staleTime: 60_000,
};

function metricsQuery(view: View) {
  const params = metricsParams(view);
  return {
    queryKey: keys.metrics(params),
    queryFn: () => call(api.GET("/api/metrics", { params: { query: params } })),
  };
}

function runsQuery(view: View) {
  const params = runsParams(view);
  return {
    queryKey: keys.runs(params),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }: { pageParam: string | undefined }) =>
      call(api.GET("/api/runs", { params: { query: { ...params, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (last: RunPage) => last.next_cursor ?? undefined,
  };
}

/** Starts the requests of the page in the address bar before the first render; settles when all have. */
export function prefetchFirstScreen(client: QueryClient): Promise<unknown> {
  const view = parseView(window.location.pathname, window.location.search);
  const config = client.prefetchQuery(configQuery);
  // The other pages' main figures (their code loads on first visit; their data need not wait for it).
  if (view.page === "jobs") return Promise.all([config, client.prefetchQuery(jobsQuery(view))]);
  if (view.page === "runners") return Promise.all([config, client.prefetchQuery(runnersQuery(view))]);
  if (view.page === "usage") return Promise.all([config, client.prefetchQuery(usageQuery(view))]);
  if (view.page === "tests") return Promise.all([config, prefetchRanking(client, view)]);
  if (view.page === "delivery") return Promise.all([config, client.prefetchQuery(doraQuery(view))]);
  if (view.page !== "dashboard") return config;
  return Promise.all([
    config,
    client.prefetchQuery(filtersQuery),
    client.prefetchQuery(metricsQuery(view)),
    client.prefetchInfiniteQuery(runsQuery(view)),
    client.prefetchQuery(alertsQuery),
  ]);
}

export function useConfig() {
  return useQuery(configQuery);
}

export function useFilters() {
  return useQuery(filtersQuery);
}

export function useMetrics(view: View) {
  return useQuery({ ...metricsQuery(view), placeholderData: keepPreviousData });
}

export function useRuns(view: View) {
  return useInfiniteQuery({ ...runsQuery(view), placeholderData: keepPreviousData });
}

export function useRun(id: string | undefined) {
  return useQuery({
    queryKey: keys.run(id ?? ""),
    queryFn: () => call(api.GET("/api/runs/{id}", { params: { path: { id: id! } } })),
    enabled: !!id,
  });
}

/**
 * When the data of a query was last loaded (ms since the epoch; 0 before it was), re-rendering when
 * it changes — unlike `getQueryState` read during render.
 */
export function useDataUpdatedAt(queryKey: QueryKey): number {
  const cache = useQueryClient().getQueryCache();
  const subscribe = useCallback((cb: () => void) => cache.subscribe(cb), [cache]);
  return useSyncExternalStore(subscribe, () => cache.find({ queryKey, exact: true })?.state.dataUpdatedAt ?? 0);
}

/** Whether a run belongs in the table of a view (same filters and inside its window). */
export function matchesView(run: Run, params: ReturnType<typeof runsParams>): boolean {
  if (params.repo && run.repo !== params.repo) return false;
  if (params.workflow && run.workflow !== params.workflow) return false;
  if (params.branch && run.branch !== params.branch) return false;
  if (params.status && run.status !== params.status) return false;
  const at = run.started_at ?? run.queued_at ?? run.created_at;
  return at >= params.from && at < params.to;
}

/**
 * Puts a run the stream announced into every cached runs list: replaced where it is already,
 * added on top of newest-first lists it belongs in. Other orders are refetched instead.
 */
export function applyRun(client: QueryClient, run: Run): void {
  const lists = client.getQueriesData<InfiniteData<RunPage>>({ queryKey: ["runs"] });
  for (const [key, data] of lists) {
    if (!data) continue;
    const params = key[1] as ReturnType<typeof runsParams>;
    const present = data.pages.some((p) => p.runs.some((r) => r.id === run.id));
    const belongs = matchesView(run, params);
    if (!present && (!belongs || params.sort !== "newest")) {
      if (belongs) void client.invalidateQueries({ queryKey: key });
      continue;
    }
    client.setQueryData<InfiniteData<RunPage>>(key, (old) => {
      if (!old) return old;
      const pages = old.pages.map((p) => ({
        ...p,
        runs: p.runs.flatMap((r) => (r.id === run.id ? (belongs ? [run] : []) : [r])),
      }));
      if (!present && belongs && pages[0]) {
        pages[0] = { ...pages[0], runs: [run, ...pages[0].runs] };
      }
      return { ...old, pages };
    });
  }
}

/**
 * Calls `run` once per `ms` at most, however often it is asked to: the first ask starts the wait,
 * asks during it are folded into that call. Returns the ask and a cancel.
 */
export function coalesce(run: () => void, ms: number): [ask: () => void, cancel: () => void] {
  let pending: ReturnType<typeof setTimeout> | undefined;
  return [
    () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        run();
      }, ms);
    },
    () => clearTimeout(pending),
  ];
}

/**
 * How often a busy stream refetches the period figures of jobs (with their sparklines) and usage at
 * most (the runner pools: every 150 ms).
 */
const JOB_FIGURES_MS = 10_000;

/**
 * How often a busy stream refetches the tests view (its rankings and the open test's history) at
 * most: a run's jobs or shards upload their reports one after another.
 */
const TEST_FIGURES_MS = 1_000;

/**
 * Subscribes to `/api/stream` while mounted: runs go straight into cached lists, the metrics
 * are refetched (coalesced to one request per 150 ms) and, when a run finished, the branches' health
 * (every 10 s at most), the runner pools on a `runners` event
 * (150 ms too; the jobs and usage figures every 10 s at most), a run's test results on a `tests`
 * event (the tests view every second at most), and everything is refetched after a reconnect or a
 * `resync`, since events may have been missed meanwhile.
 */
export function useLiveUpdates(): { state: StreamState; lastEvent: Date | null } {
  const client = useQueryClient();
  const [state, setState] = useState<StreamState>("connecting");
  const [lastEvent, setLastEvent] = useState<Date | null>(null);
  const wasLive = useRef(false);
  const previous = useRef<StreamState>("connecting");
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | undefined;
    const refreshMetrics = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        void client.invalidateQueries({ queryKey: ["metrics"] });
      }, 150);
    };
    const [refreshRunners, cancelRunners] = coalesce(() => {
      void client.invalidateQueries({ queryKey: ["runners"] });
      void client.invalidateQueries({ queryKey: ["runner-series"] });
    }, 150);
    const [refreshJobFigures, cancelJobFigures] = coalesce(() => {
      for (const queryKey of [["jobs"], ["job-series"], ["usage"]]) void client.invalidateQueries({ queryKey });
    }, JOB_FIGURES_MS);
    // Branches turn red and green with finished runs: their health every 10 s at most.
    const [refreshBranches, cancelBranches] = coalesce(
      () => void client.invalidateQueries({ queryKey: ["branch-health"] }),
      JOB_FIGURES_MS,
    );
    const [refreshTestFigures, cancelTestFigures] = coalesce(() => {
      for (const queryKey of TEST_FIGURES) void client.invalidateQueries({ queryKey });
    }, TEST_FIGURES_MS);
    const stop = openStream({
      onState(next) {
        setState(next);
        // Live again after a reconnect: events may have been missed. (From `stale`, the server's
        // `resync` does that.)
        if (next === "live") {
          if (wasLive.current && previous.current !== "stale") void client.invalidateQueries();
          wasLive.current = true;
        }
        previous.current = next;
      },
      onEvent(event, data) {
        setLastEvent(new Date());
        if (event === "run") {
          let run: Partial<Run>;
          try {
            run = JSON.parse(data) as Partial<Run>;
          } catch {
            return;
          }
          if (run.id && run.repo) {
            applyRun(client, run as Run);
          } else {
            void client.invalidateQueries({ queryKey: ["runs"] });
          }
          if (run.id) {
            void client.invalidateQueries({ queryKey: keys.run(run.id) });
            // Reports uploaded before their run are attached when it arrives.
            void client.invalidateQueries({ queryKey: keys.runTests(run.id) });
          }
          const known = client.getQueryData<Filters>(keys.filters);
          if (run.repo && known && !known.repos.includes(run.repo)) {
            void client.invalidateQueries({ queryKey: keys.filters });
          }
          refreshMetrics();
          if (run.status !== "queued" && run.status !== "running") refreshBranches();
        } else if (event === "incident") {
          void client.invalidateQueries({ queryKey: keys.alerts });
          void client.invalidateQueries({ queryKey: keys.rules });
        } else if (event === "runners") {
          refreshRunners();
          refreshJobFigures();
        } else if (event === "tests") {
          let change: Partial<Schemas["TestsChange"]>;
          try {
            change = JSON.parse(data) as Partial<Schemas["TestsChange"]>;
          } catch {
            change = {};
          }
          // The run's Tests tab at once (every run's, when the event does not say which).
          void client.invalidateQueries({ queryKey: change.run_id ? keys.runTests(change.run_id) : ["run-tests"] });
          refreshTestFigures();
        } else if (event === "resync") {
          void client.invalidateQueries();
        }
      },
    });
    return () => {
      clearTimeout(pending);
      cancelRunners();
      cancelJobFigures();
      cancelTestFigures();
      cancelBranches();
      stop();
    };
  }, [client]);
  return { state, lastEvent };
}
