// Usage: billable minutes and estimated cost per repository, workflow or runner label set, in total
// and per day, against the period before; the same figures as CSV.
import { useState } from "react";
import { useAuth } from "../api/auth";
import type { Schemas } from "../api/client";
import { downloadUsageCsv, usageCsvPath, usageParams, useUsage } from "../api/insight";
import { DeltaText, ErrorBox, Skeleton } from "../components/common";
import { usePalette } from "../components/chart-options";
import { Filters } from "../components/Filters";
import { Sparkline } from "../components/Kpis";
import { SeriesChart } from "../components/SeriesChart";
import { delta, formatCount, formatTime } from "../lib/format";
import { formatMinutes, formatMoney, usageGroupName } from "../lib/insight";
import { useZone } from "../lib/prefs";
import type { UsageGroup, View } from "../lib/url";

type UsageFigures = Schemas["UsageFigures"];

const GROUPS: [UsageGroup, string][] = [
  ["repo", "Repository"],
  ["workflow", "Workflow"],
  ["labels", "Label set"],
];

export function Usage({
  view,
  onView,
  theme,
}: {
  view: View;
  onView: (patch: Partial<View>, replace?: boolean) => void;
  theme: string;
}) {
  const usage = useUsage(view);
  const by = view.usageBy ?? "repo";
  const data = usage.data;
  return (
    <>
      <Filters view={view} onView={onView} fields={by === "labels" ? [] : ["repo"]} />
      {usage.isPending ? (
        <Skeleton lines={6} />
      ) : usage.isError ? (
        <ErrorBox error={usage.error} retry={() => void usage.refetch()} />
      ) : (
        <>
          <Totals total={data!.total} previous={data!.previous} currency={data!.currency} />
          <PerDay days={data!.days} currency={data!.currency} theme={theme} />
          <article className="card" aria-labelledby="usage-title">
            <div className="chart-head">
              <h2 id="usage-title">By {GROUPS.find(([g]) => g === by)![1].toLowerCase()}</h2>
              <span className="spacer" />
              <div className="seg" role="group" aria-label="Group usage by">
                {GROUPS.map(([g, label]) => (
                  <button
                    key={g}
                    type="button"
                    aria-pressed={by === g}
                    onClick={() => onView({ usageBy: g === "repo" ? undefined : g })}
                  >
                    {label}
                  </button>
                ))}
              </div>
              <CsvLink view={view} />
            </div>
            {by === "labels" && view.repo && (
              <p className="muted" role="note">
                Runner label sets are shared by every repository: these figures are the whole installation&rsquo;s, not
                only {view.repo}&rsquo;s.
              </p>
            )}
            <GroupsTable usage={data!} by={by} />
          </article>
        </>
      )}
    </>
  );
}

function Totals({ total, previous, currency }: { total: UsageFigures; previous: UsageFigures; currency: string }) {
  const cards = [
    {
      label: "Billable minutes",
      value: formatMinutes(total.billable_minutes),
      delta: delta(total.billable_minutes, previous.billable_minutes, "relative", "lower"),
      hint: "GitHub: each job rounded up to a minute, times the hosted runner's OS multiplier; wall minutes elsewhere",
    },
    {
      label: "Estimated cost",
      value: formatMoney(total.cost, currency),
      delta: delta(total.cost, previous.cost, "relative", "lower"),
      hint: "Minutes times the price per minute of each job's labels (Settings → Runner prices)",
    },
    {
      label: "Jobs",
      value: formatCount(total.jobs),
      // More jobs is neither good nor bad news: the change has no colour.
      delta: { ...delta(total.jobs, previous.jobs, "relative", "higher"), good: null },
      hint: `Finished jobs; ${formatMinutes(total.minutes)} of wall time before multipliers`,
    },
  ];
  return (
    <section className="kpis" aria-label="Usage totals">
      {cards.map((c) => (
        <article className="card kpi" key={c.label} aria-label={c.label}>
          <span className="label" title={c.hint}>
            {c.label}
          </span>
          <span className="value" data-testid={`usage-${c.label}`}>
            {c.value}
          </span>
          <DeltaText delta={c.delta} />
        </article>
      ))}
    </section>
  );
}

function PerDay({ days, currency, theme }: { days: Schemas["UsageDay"][]; currency: string; theme: string }) {
  const zone = useZone();
  const palette = usePalette(theme);
  const minutes = days.reduce((n, d) => n + d.billable_minutes, 0);
  const cost = days.reduce((n, d) => n + d.cost, 0);
  const busiest = days.reduce<Schemas["UsageDay"] | null>(
    (m, d) => (d.billable_minutes > 0 && (!m || d.billable_minutes > m.billable_minutes) ? d : m),
    null,
  );
  return (
    <SeriesChart
      title="Billable minutes per day"
      testId="usage-days-chart"
      times={days.map((d) => d.day)}
      unit="minutes"
      grain="day"
      theme={theme}
      bars
      lines={[{ label: "billable minutes", color: palette.accent, values: days.map((d) => d.billable_minutes) }]}
      totals={[formatMinutes(minutes)]}
      summary={
        `Billable minutes per day: ${formatMinutes(minutes)} in all, ${formatMoney(cost, currency)}` +
        (busiest
          ? `; the most on ${formatTime(busiest.day, zone, "day")}: ${formatMinutes(busiest.billable_minutes)}`
          : "") +
        "."
      }
    />
  );
}

function GroupsTable({ usage, by }: { usage: Schemas["Usage"]; by: UsageGroup }) {
  if (usage.groups.length === 0) return <p className="muted">No finished jobs in this period.</p>;
  const total = usage.total.billable_minutes;
  return (
    <div className="table-wrap">
      <table className="grid usage-table" aria-labelledby="usage-title">
        <thead>
          <tr>
            <th scope="col">{GROUPS.find(([g]) => g === by)![1]}</th>
            <th scope="col">Per day</th>
            <th scope="col">Jobs</th>
            <th scope="col" aria-sort="descending">
              Billable minutes<span aria-hidden="true"> ▼</span>
            </th>
            <th scope="col">Share</th>
            <th scope="col">Cost</th>
            <th scope="col">Change in cost</th>
          </tr>
        </thead>
        <tbody>
          {usage.groups.map((g) => {
            const name = usageGroupName(g, by);
            const share = total > 0 ? g.billable_minutes / total : 0;
            return (
              <tr key={name} data-group={name}>
                <th scope="row" className="truncate" title={name}>
                  {name}
                </th>
                <td className="spark-cell">
                  <Sparkline
                    values={g.days.map((d) => d.billable_minutes)}
                    label={`Billable minutes of ${name} per day`}
                  />
                </td>
                <td>{formatCount(g.jobs)}</td>
                <td>
                  <span className="figure">{formatMinutes(g.billable_minutes)}</span>
                  <br />
                  <DeltaText delta={delta(g.billable_minutes, g.previous.billable_minutes, "relative", "lower")} />
                </td>
                <td>
                  <meter min={0} max={1} value={share} aria-label={`Share of ${name}`} /> {(share * 100).toFixed(1)}%
                </td>
                <td>{formatMoney(g.cost, usage.currency)}</td>
                <td>
                  <DeltaText delta={delta(g.cost, g.previous.cost, "relative", "lower")} />
                </td>
              </tr>
            );
          })}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">Total</th>
            <td />
            <td>{formatCount(usage.total.jobs)}</td>
            <td>{formatMinutes(usage.total.billable_minutes)}</td>
            <td />
            <td>{formatMoney(usage.total.cost, usage.currency)}</td>
            <td>
              <DeltaText delta={delta(usage.total.cost, usage.previous.cost, "relative", "lower")} />
            </td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

/**
 * "Download CSV": a link to the CSV with the same parameters, which the page fetches itself with
 * the tab's token (asking for one when the server wants it) and saves as a file.
 */
function CsvLink({ view }: { view: View }) {
  const { withToken } = useAuth();
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const params = usageParams(view);
  const download = async () => {
    setState({ busy: true, error: null });
    try {
      await withToken("Downloading usage needs a read (or admin) token.", () => downloadUsageCsv(params));
      setState({ busy: false, error: null });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <>
      <a
        className="btn link-btn"
        href={usageCsvPath(params)}
        download
        aria-disabled={state.busy || undefined}
        onClick={(e) => {
          e.preventDefault();
          if (!state.busy) void download();
        }}
      >
        {state.busy ? "Downloading…" : "Download CSV"}
      </a>
      {state.error != null && <ErrorBox error={state.error} />}
    </>
  );
}
