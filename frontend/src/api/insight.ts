// The jobs, runners and usage views' data: their query parameters (from the view in the URL, like
// params.ts), their queries, and the usage CSV, fetched with the token and saved as a file.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { sparkGrain } from "../lib/insight";
import { viewZone } from "../lib/prefs";
import { windowOf, type Grain, type JobRef, type View } from "../lib/url";
import { ianaZone } from "../lib/zone";
import { api, ApiError, call, tokenStore, type ErrorBody, type Schemas } from "./client";
import { keys } from "./keys";

/** Jobs per page of the jobs view. */
export const JOBS_PER_PAGE = 25;

function window(view: View, now: Date) {
  const w = windowOf(view, now);
  return { from: w.from.toISOString(), to: w.to.toISOString(), tz: ianaZone(viewZone(view)) };
}

export function jobsParams(view: View, now = new Date()) {
  const { from, to, tz } = window(view, now);
  return {
    from,
    to,
    tz,
    sort: view.jobSort ?? "slowest",
    limit: JOBS_PER_PAGE,
    offset: ((view.jobsPage ?? 1) - 1) * JOBS_PER_PAGE,
    ...(view.repo ? { repo: view.repo } : {}),
    ...(view.workflow ? { workflow: view.workflow } : {}),
    ...(view.branch ? { branch: view.branch } : {}),
  };
}

/**
 * The grain of a job's or a pool's series: the one the URL chose, else hours up to two days, days up
 * to 90 (a job runs a few times a day: hourly points over a week would be mostly empty).
 */
export function seriesGrain(view: View, now = new Date()): Grain {
  const w = windowOf(view, now);
  return view.group ?? sparkGrain(w.to.getTime() - w.from.getTime());
}

/** One job's series over the view's window, at the series' grain or another (the sparklines'). */
export function jobSeriesParams(view: View, job: JobRef, now = new Date(), grain?: Grain) {
  const { from, to, tz } = window(view, now);
  return {
    from,
    to,
    tz,
    group_by: grain ?? seriesGrain(view, now),
    repo: job.repo,
    workflow: job.workflow,
    job: job.job,
  };
}

export function runnersParams(view: View, now = new Date()) {
  const { from, to, tz } = window(view, now);
  return { from, to, tz };
}

export function runnerSeriesParams(view: View, labels: string, now = new Date()) {
  const { from, to, tz } = window(view, now);
  return { from, to, tz, group_by: seriesGrain(view, now), labels };
}

/** Usage by label set is the whole installation's: the API filters repositories only by repo or workflow. */
export function usageParams(view: View, now = new Date()) {
  const { from, to, tz } = window(view, now);
  const group_by = view.usageBy ?? "repo";
  return { from, to, tz, group_by, ...(view.repo && group_by !== "labels" ? { repo: view.repo } : {}) };
}

export function jobsQuery(view: View) {
  const params = jobsParams(view);
  return {
    queryKey: keys.jobs(params),
    queryFn: () => call(api.GET("/api/jobs", { params: { query: params } })),
  };
}

export function runnersQuery(view: View) {
  const params = runnersParams(view);
  return {
    queryKey: keys.runners(params),
    queryFn: () => call(api.GET("/api/runners", { params: { query: params } })),
  };
}

export function usageQuery(view: View) {
  const params = usageParams(view);
  return {
    queryKey: keys.usage(params),
    // JSON (no `format=csv`): the schema's other answer, the CSV text, is downloadUsageCsv's.
    queryFn: async () => (await call(api.GET("/api/usage", { params: { query: params } }))) as Schemas["Usage"],
  };
}

export function useJobs(view: View) {
  return useQuery({ ...jobsQuery(view), placeholderData: keepPreviousData });
}

export function useJobSeries(view: View, job: JobRef | undefined, grain?: Grain) {
  const params = jobSeriesParams(view, job ?? { repo: "", workflow: "", job: "" }, undefined, grain);
  return useQuery({
    queryKey: keys.jobSeries(params),
    queryFn: () => call(api.GET("/api/jobs/timeseries", { params: { query: params } })),
    enabled: !!job,
    staleTime: 60_000,
  });
}

export function useRunners(view: View) {
  return useQuery({ ...runnersQuery(view), placeholderData: keepPreviousData });
}

export function useRunnerSeries(view: View, labels: string | undefined) {
  const params = runnerSeriesParams(view, labels ?? "");
  return useQuery({
    queryKey: keys.runnerSeries(params),
    queryFn: () => call(api.GET("/api/runners/timeseries", { params: { query: params } })),
    enabled: labels !== undefined,
    placeholderData: keepPreviousData,
  });
}

export function useUsage(view: View) {
  return useQuery({ ...usageQuery(view), placeholderData: keepPreviousData });
}

/** The address of the usage CSV with the same parameters as the figures on screen. */
export function usageCsvPath(params: ReturnType<typeof usageParams>): string {
  return `/api/usage?${new URLSearchParams({ ...params, format: "csv" }).toString()}`;
}

/** `usage-by-repo-2026-11-30-2026-12-07.csv`: what and which days it holds. */
export function usageCsvName(params: ReturnType<typeof usageParams>): string {
  const day = (iso: string) => iso.slice(0, 10);
  const repo = params.repo ? `-${params.repo.replace(/[^A-Za-z0-9._-]+/g, "_")}` : "";
  return `usage-by-${params.group_by}${repo}-${day(params.from)}-${day(params.to)}.csv`;
}

/**
 * Fetches the usage CSV with the tab's token (a plain link would not carry the Authorization
 * header) and gives it to the browser as a download.
 */
export async function downloadUsageCsv(params: ReturnType<typeof usageParams>): Promise<void> {
  const headers: Record<string, string> = { Accept: "text/csv" };
  const token = tokenStore.get();
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(new URL(usageCsvPath(params), globalThis.location.origin), { headers });
  } catch (e) {
    throw new ApiError(0, "offline", `The backend cannot be reached (${(e as Error).message}).`);
  }
  if (!response.ok) {
    let body: Partial<ErrorBody> = {};
    try {
      body = (await response.json()) as ErrorBody;
    } catch {
      // Not the API's error shape (a proxy's page): the status says enough.
    }
    throw new ApiError(
      response.status,
      body.error?.code ?? `http_${response.status}`,
      body.error?.message ?? `${response.status} ${response.statusText}`,
      body.error?.details ?? [],
    );
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  try {
    const a = document.createElement("a");
    a.href = url;
    a.download = usageCsvName(params);
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    // After the click has handed the file to the browser.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
