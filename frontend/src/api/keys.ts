// The query keys of every API resource, in one place: queries, mutations (their invalidations) and
// the live stream all name the same cache entries.
import type {
  branchHealthParams,
  deploymentNamesParams,
  deploymentNearParams,
  deploymentsParams,
  doraParams,
  incidentsParams,
} from "./delivery";
import type { jobSeriesParams, jobsParams, runnerSeriesParams, runnersParams, usageParams } from "./insight";
import type { AuditFilter, metricsParams, runsParams } from "./params";
import type { flakyParams, historyParams, testsParams } from "./tests";

export const keys = {
  config: ["config"] as const,
  filters: ["filters"] as const,
  metrics: (p: ReturnType<typeof metricsParams>) => ["metrics", p] as const,
  runs: (p: ReturnType<typeof runsParams>) => ["runs", p] as const,
  run: (id: string) => ["run", id] as const,
  alerts: ["alerts"] as const,
  integrations: ["integrations"] as const,
  rules: ["rules"] as const,
  tokens: ["tokens"] as const,
  receivers: ["receivers"] as const,
  sources: ["sources"] as const,
  audit: (f: AuditFilter) => ["audit", f] as const,
  settings: ["settings"] as const,
  jobs: (p: ReturnType<typeof jobsParams>) => ["jobs", p] as const,
  jobSeries: (p: ReturnType<typeof jobSeriesParams>) => ["job-series", p] as const,
  runners: (p: ReturnType<typeof runnersParams>) => ["runners", p] as const,
  runnerSeries: (p: ReturnType<typeof runnerSeriesParams>) => ["runner-series", p] as const,
  usage: (p: ReturnType<typeof usageParams>) => ["usage", p] as const,
  tests: (p: ReturnType<typeof testsParams>) => ["tests", p] as const,
  flakyTests: (p: ReturnType<typeof flakyParams>) => ["flaky-tests", p] as const,
  testHistory: (p: ReturnType<typeof historyParams>) => ["test-history", p] as const,
  runTests: (id: string) => ["run-tests", id] as const,
  /** A repository's quarantine, or every repository's (`null`). */
  quarantine: (repo: string | null) => ["quarantine", repo] as const,
  dora: (p: ReturnType<typeof doraParams>) => ["dora", p] as const,
  deployments: (p: ReturnType<typeof deploymentsParams>) => ["deployments", p] as const,
  deploymentNear: (p: ReturnType<typeof deploymentNearParams> | undefined) => ["deployment-near", p] as const,
  deploymentNames: (p: ReturnType<typeof deploymentNamesParams>) => ["deployment-names", p] as const,
  /** Incidents in production (`/api/incidents`), not the alerts' incidents. */
  productionIncidents: (p: ReturnType<typeof incidentsParams>) => ["production-incidents", p] as const,
  branchHealth: (p: ReturnType<typeof branchHealthParams>) => ["branch-health", p] as const,
};
