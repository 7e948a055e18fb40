// The query keys of every API resource, in one place: queries, mutations (their invalidations) and
// the live stream all name the same cache entries.
import type { AuditFilter, metricsParams, runsParams } from "./params";

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
};
