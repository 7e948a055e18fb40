// The delivery view's data and the dashboard's branch health: their query parameters (from the view
// in the URL, like params.ts and insight.ts) and their queries — the four DORA keys, the deployments
// and incidents (paged by cursor), and how long default branches stay red.
import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { viewZone } from "../lib/prefs";
import { windowOf, type View } from "../lib/url";
import { ianaZone } from "../lib/zone";
import { api, call, type Schemas } from "./client";
import { keys } from "./keys";

export type Dora = Schemas["Dora"];
export type DoraKey = Schemas["DoraKey"];
export type Deployment = Schemas["Deployment"];
export type ProductionIncident = Schemas["ProductionIncident"];
export type BranchHealth = Schemas["BranchHealth"];
export type DoraGrain = Schemas["DoraGrain"];

/** Deployments per page of the timeline. */
export const DEPLOYMENTS_PER_PAGE = 50;
/** Incidents per page of their list. */
export const INCIDENTS_PER_PAGE = 25;
/** Deployments read for the service and environment suggestions. */
const NAMES_SAMPLE = 200;

/** The DORA series' grain: the URL's day or week, else days up to 90 days and weeks beyond. */
export function doraGrain(view: View, now = new Date()): DoraGrain {
  if (view.group === "day" || view.group === "week") return view.group;
  const w = windowOf(view, now);
  return w.to.getTime() - w.from.getTime() > 90 * 86_400_000 ? "week" : "day";
}

function window(view: View, now: Date) {
  const w = windowOf(view, now);
  return { from: w.from.toISOString(), to: w.to.toISOString() };
}

/** Service and environment, as the view filters them (absent: every service, the production environments). */
function scope(view: View) {
  return {
    ...(view.service ? { service: view.service } : {}),
    ...(view.environment ? { environment: view.environment } : {}),
  };
}

export function doraParams(view: View, now = new Date()) {
  return { ...window(view, now), tz: ianaZone(viewZone(view)), group_by: doraGrain(view, now), ...scope(view) };
}

/**
 * The timeline's deployments: the view's environment, else the production ones (those the keys
 * count) unless every environment is asked for.
 */
export function deploymentsParams(view: View, now = new Date()) {
  return {
    ...window(view, now),
    limit: DEPLOYMENTS_PER_PAGE,
    ...scope(view),
    ...(!view.environment && view.envs !== "all" ? { production: true } : {}),
  };
}

/** Incidents are all in production: only the service and the environment narrow them. */
export function incidentsParams(view: View, now = new Date()) {
  return { ...window(view, now), limit: INCIDENTS_PER_PAGE, ...scope(view) };
}

/** Every deployment of the window (a sample), for the names the filters suggest. */
export function deploymentNamesParams(view: View, now = new Date()) {
  return { ...window(view, now), limit: NAMES_SAMPLE };
}

/** The default branches over the dashboard's window (and its repository, when one is chosen). */
export function branchHealthParams(view: View, now = new Date()) {
  return { ...window(view, now), default: true, ...(view.repo ? { repo: view.repo } : {}) };
}

export function doraQuery(view: View) {
  const params = doraParams(view);
  return {
    queryKey: keys.dora(params),
    queryFn: () => call(api.GET("/api/dora", { params: { query: params } })),
  };
}

export function useDora(view: View) {
  return useQuery({ ...doraQuery(view), placeholderData: keepPreviousData });
}

export function useDeployments(view: View) {
  const params = deploymentsParams(view);
  return useInfiniteQuery({
    queryKey: keys.deployments(params),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/api/deployments", { params: { query: { ...params, ...(pageParam ? { cursor: pageParam } : {}) } } }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
}

export function useIncidents(view: View) {
  const params = incidentsParams(view);
  return useInfiniteQuery({
    queryKey: keys.productionIncidents(params),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/api/incidents", { params: { query: { ...params, ...(pageParam ? { cursor: pageParam } : {}) } } }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
}

/** The services and environments deployed to in the window, sorted, for the filters' suggestions. */
export function useDeploymentNames(view: View) {
  const params = deploymentNamesParams(view);
  return useQuery({
    queryKey: keys.deploymentNames(params),
    queryFn: () => call(api.GET("/api/deployments", { params: { query: params } })),
    select: (page) => ({
      services: [...new Set(page.deployments.map((d) => d.service))].sort(),
      environments: [...new Set(page.deployments.map((d) => d.environment))].sort(),
    }),
    staleTime: 60_000,
  });
}

/** Where to look for a deployment that is not listed: its service's (and environment's) before an instant. */
export interface DeploymentHint {
  service: string;
  environment?: string | null;
  /** An instant it was created before (the start of an incident linked to it). */
  before: string;
}

export function deploymentNearParams(hint: DeploymentHint) {
  return {
    service: hint.service,
    ...(hint.environment ? { environment: hint.environment } : {}),
    to: new Date(Date.parse(hint.before) + 1).toISOString(),
    limit: DEPLOYMENTS_PER_PAGE,
  };
}

/**
 * A deployment the timeline does not list (an incident's, deployed before the window): looked up
 * among the latest deployments of its service before `hint.before`; undefined when not found there.
 */
export function useDeploymentNear(id: number | undefined, hint: DeploymentHint | undefined) {
  const params = hint ? deploymentNearParams(hint) : undefined;
  return useQuery({
    queryKey: keys.deploymentNear(params),
    queryFn: () => call(api.GET("/api/deployments", { params: { query: params } })),
    enabled: id !== undefined && params !== undefined,
    select: (page) => page.deployments.find((d) => d.id === id),
    staleTime: 60_000,
  });
}

export function useBranchHealth(view: View) {
  const params = branchHealthParams(view);
  return useQuery({
    queryKey: keys.branchHealth(params),
    queryFn: () => call(api.GET("/api/branches/health", { params: { query: params } })),
    placeholderData: keepPreviousData,
  });
}
