// The tests view's and the run panel's data: the rankings' query parameters (from the view in the
// URL, like insight.ts), a test's history, a run's results, and the quarantine with its admin actions.
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { viewZone } from "../lib/prefs";
import { windowOf, type TestRef, type View } from "../lib/url";
import { ianaZone } from "../lib/zone";
import { useAuth } from "./auth";
import { api, ApiError, call, type Schemas } from "./client";
import { keys } from "./keys";

/**
 * The queries of the tests view that quarantining or new results change: the rankings (and their
 * badges), the open test's history (its `quarantined_in`) and who quarantined it.
 */
export const TEST_FIGURES = [["tests"], ["flaky-tests"], ["test-history"], ["quarantine"]] as const;

/** Tests per page of the tests view. */
export const TESTS_PER_PAGE = 25;
/** The newest results of a test its history shows. */
export const HISTORY_LIMIT = 100;

function page(view: View, now: Date) {
  const w = windowOf(view, now);
  return {
    from: w.from.toISOString(),
    to: w.to.toISOString(),
    tz: ianaZone(viewZone(view)),
    limit: TESTS_PER_PAGE,
    offset: ((view.testsPage ?? 1) - 1) * TESTS_PER_PAGE,
  };
}

/** Every filter of the page, and the search: each ranking applies them. */
function filters(view: View) {
  return {
    ...(view.repo ? { repo: view.repo } : {}),
    ...(view.workflow ? { workflow: view.workflow } : {}),
    ...(view.branch ? { branch: view.branch } : {}),
    ...(view.testSearch ? { q: view.testSearch } : {}),
  };
}

/** The "Most failing" and "Slowest" rankings. */
export function testsParams(view: View, now = new Date()) {
  return {
    ...page(view, now),
    sort: view.testRank === "slowest" ? ("slowest" as const) : ("failing" as const),
    ...filters(view),
  };
}

/** The flaky ranking (a workflow or branch keeps the flakes on the commits its runs tested). */
export function flakyParams(view: View, now = new Date()) {
  return { ...page(view, now), ...filters(view) };
}

/** A test's newest results in its repository (on the page's branch, when one is chosen). */
export function historyParams(test: TestRef, branch?: string) {
  return { test_id: test.id, repo: test.repo, limit: HISTORY_LIMIT, ...(branch ? { branch } : {}) };
}

export function testsQuery(view: View) {
  const params = testsParams(view);
  return {
    queryKey: keys.tests(params),
    queryFn: () => call(api.GET("/api/tests", { params: { query: params } })),
  };
}

export function flakyQuery(view: View) {
  const params = flakyParams(view);
  return {
    queryKey: keys.flakyTests(params),
    queryFn: () => call(api.GET("/api/tests/flaky", { params: { query: params } })),
  };
}

/** The query key of the ranking on screen (the header's "Updated" follows it). */
export function rankingKey(view: View) {
  return view.testRank ? keys.tests(testsParams(view)) : keys.flakyTests(flakyParams(view));
}

/** Starts loading the ranking on screen (before the page's code has loaded). */
export function prefetchRanking(client: QueryClient, view: View): Promise<void> {
  return view.testRank ? client.prefetchQuery(testsQuery(view)) : client.prefetchQuery(flakyQuery(view));
}

export function useTests(view: View) {
  return useQuery({ ...testsQuery(view), enabled: !!view.testRank, placeholderData: keepPreviousData });
}

export function useFlakyTests(view: View) {
  return useQuery({ ...flakyQuery(view), enabled: !view.testRank, placeholderData: keepPreviousData });
}

export function useTestHistory(test: TestRef, branch?: string) {
  const params = historyParams(test, branch);
  return useQuery({
    queryKey: keys.testHistory(params),
    queryFn: () => call(api.GET("/api/tests/history", { params: { query: params } })),
  });
}

/** A run's test results; `null` when it has none (the API's 404: no report, or no such run). */
export function useRunTests(runId: string) {
  return useQuery({
    queryKey: keys.runTests(runId),
    queryFn: async (): Promise<Schemas["RunTests"] | null> => {
      try {
        return await call(api.GET("/api/runs/{run_id}/tests", { params: { path: { run_id: runId } } }));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
  });
}

/** A repository's quarantine (every repository's without one), as JSON. */
function quarantineQuery(repo: string | undefined) {
  return {
    queryKey: keys.quarantine(repo ?? null),
    // JSON (no `format=text`): the schema's other answer, the text list, is for CI steps.
    queryFn: async () =>
      (await call(
        api.GET("/api/tests/quarantine", { params: { query: repo ? { repo } : {} } }),
      )) as Schemas["Quarantined"][],
  };
}

/** The quarantined tests of a repository, or of every repository when none is given. */
export function useQuarantine(repo: string | undefined) {
  return useQuery(quarantineQuery(repo));
}

/**
 * Who quarantined a test in its repository, when and why: read from the repository's quarantine,
 * and only for a test its history says is quarantined there (`quarantined_in`).
 */
export function useQuarantineEntry(test: TestRef, quarantined: boolean) {
  const { id, repo } = test;
  return useQuery({
    ...quarantineQuery(repo),
    enabled: quarantined,
    select: (list) => list.find((q) => q.test_id === id),
  });
}

/** The tests a search finds among those that ran in the view's period (to quarantine one). */
export const FOUND_LIMIT = 10;

/** The parameters of a search for tests to quarantine: the view's period and filters, the most failing first. */
export function findParams(view: View, q: string, now = new Date()) {
  return {
    ...testsParams({ ...view, testRank: "failing", testsPage: undefined, testSearch: q }, now),
    limit: FOUND_LIMIT,
  };
}

/** Finds tests by suite, class or name (nothing until there is something to search for). */
export function useFindTests(view: View, q: string) {
  const params = findParams(view, q);
  return useQuery({
    queryKey: keys.tests(params),
    queryFn: () => call(api.GET("/api/tests", { params: { query: params } })),
    enabled: q.length > 0,
  });
}

export type QuarantineAction =
  | { action: "quarantine"; repo: string; test_id: number; reason?: string }
  | { action: "release"; repo: string; test_id: number };

/** Quarantines a test in a repository (with an optional reason), or releases it: admin actions. */
export function useQuarantineAction() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  return useMutation({
    mutationFn: (a: QuarantineAction) =>
      withToken("Quarantining and releasing tests needs an admin token.", async () => {
        if (a.action === "release") {
          await call(api.DELETE("/api/tests/quarantine", { params: { query: { repo: a.repo, test_id: a.test_id } } }));
        } else {
          const reason = a.reason?.trim();
          await call(
            api.POST("/api/tests/quarantine", {
              body: { repo: a.repo, test_id: a.test_id, ...(reason ? { reason } : {}) },
            }),
          );
        }
      }),
    onSettled: () => {
      for (const queryKey of TEST_FIGURES) void client.invalidateQueries({ queryKey });
    },
  });
}
