// The query parameters of the dashboard's metrics and runs, from the view its URL holds. They are
// also the query keys' parameters (keys.ts), so equal views share cache entries.
import { viewZone } from "../lib/prefs";
import { windowOf, type View } from "../lib/url";
import { ianaZone } from "../lib/zone";

/**
 * The query parameters the dashboard's filters turn into. `tz` (an IANA name; the browser's own
 * for "local") makes days and weeks start at midnight where the user is.
 */
export function metricsParams(view: View, now = new Date()) {
  const w = windowOf(view, now);
  return {
    from: w.from.toISOString(),
    to: w.to.toISOString(),
    group_by: w.group,
    tz: ianaZone(viewZone(view)),
    limit: 0,
    ...(view.repo ? { repo: view.repo } : {}),
    ...(view.workflow ? { workflow: view.workflow } : {}),
    ...(view.branch ? { branch: view.branch } : {}),
  };
}

export function runsParams(view: View, now = new Date()) {
  const w = windowOf(view, now);
  return {
    from: w.from.toISOString(),
    to: w.to.toISOString(),
    sort: view.sort,
    limit: 50,
    ...(view.repo ? { repo: view.repo } : {}),
    ...(view.workflow ? { workflow: view.workflow } : {}),
    ...(view.branch ? { branch: view.branch } : {}),
    ...(view.status ? { status: view.status } : {}),
  };
}

/** The audit log's filters and page. */
export interface AuditFilter {
  target_kind?: string;
  action?: string;
  /** `next_cursor` of the page before; absent for the newest page. */
  cursor?: string;
}
