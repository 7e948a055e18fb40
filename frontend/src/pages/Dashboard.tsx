// The dashboard: filters, KPI cards, charts, the default branches' health, runs and alerts.
import { useState } from "react";
import { useFilters, useMetrics } from "../api/hooks";
import { AlertsPanel } from "../components/AlertsPanel";
import { BranchHealth } from "../components/BranchHealth";
import { Charts } from "../components/Charts";
import { ErrorBox, Skeleton } from "../components/common";
import { EmptyState } from "../components/EmptyState";
import { Filters } from "../components/Filters";
import { Kpis } from "../components/Kpis";
import { RunPanel } from "../components/RunPanel";
import { RunsTable } from "../components/RunsTable";
import { windowOf, type View } from "../lib/url";

/** The API answers at most 2,000 points; hourly points are offered up to that. */
const MAX_POINTS = 2000;

export function Dashboard({
  view,
  onView,
  theme,
}: {
  view: View;
  onView: (patch: Partial<View>, replace?: boolean) => void;
  theme: string;
}) {
  const filters = useFilters();
  const metrics = useMetrics(view);
  const w = windowOf(view);
  const hours = (w.to.getTime() - w.from.getTime()) / 3_600_000;
  const empty = filters.data && filters.data.repos.length === 0;
  // The run the table's "Raw" action opened: its panel starts with the raw payload expanded.
  const [rawRun, setRawRun] = useState<string | null>(null);
  const open = (run: string, raw = false) => {
    setRawRun(raw ? run : null);
    onView({ run }, true);
  };

  return (
    <>
      <Filters view={view} onView={onView} />
      {empty ? (
        <EmptyState />
      ) : (
        <div className="board">
          {metrics.isPending ? (
            <section className="kpis">
              <Skeleton lines={4} />
            </section>
          ) : metrics.isError ? (
            <div className="kpis">
              <ErrorBox error={metrics.error} retry={() => void metrics.refetch()} />
            </div>
          ) : (
            <>
              <Kpis metrics={metrics.data} />
              <Charts
                metrics={metrics.data}
                grain={metrics.data.window.group_by}
                hourAllowed={hours <= MAX_POINTS}
                onGrain={(group) => onView({ group })}
                theme={theme}
              />
            </>
          )}
          <BranchHealth view={view} />
          <RunsTable view={view} onView={onView} onOpen={open} />
          <AlertsPanel onOpenRun={(id) => open(id)} />
        </div>
      )}
      {view.run && (
        <RunPanel
          id={view.run}
          showRaw={rawRun === view.run}
          onClose={() => onView({ run: undefined }, true)}
          onOpen={(run) => open(run)}
          onOpenTest={(test) => onView({ page: "tests", test })}
        />
      )}
    </>
  );
}
