// The dashboard's branch health: each default branch over the dashboard's window — how long it took
// to turn green after a failure (p50, p95), the share of the window it was red, its longest red
// spell, and since when it is red when it is now.
import { useBranchHealth, type BranchHealth as Branch } from "../api/delivery";
import { formatCount, formatDuration, formatElapsed, formatPercent, formatTime } from "../lib/format";
import { useZone } from "../lib/prefs";
import type { View } from "../lib/url";
import { useNow } from "../lib/useNow";
import { ErrorBox, Skeleton } from "./common";

export function BranchHealth({ view }: { view: View }) {
  const health = useBranchHealth(view);
  const branches = health.data?.branches ?? [];
  return (
    <article className="card branch-health" aria-labelledby="branch-health-title">
      <div className="chart-head">
        <h2 id="branch-health-title">Default branches</h2>
        <span className="muted small">time to green after a failure, and time spent red</span>
      </div>
      {health.isPending ? (
        <Skeleton lines={2} />
      ) : health.isError ? (
        <ErrorBox error={health.error} retry={() => void health.refetch()} />
      ) : branches.length === 0 ? (
        <p className="muted">No finished runs on a default branch in this period.</p>
      ) : (
        <div className="table-wrap">
          <table className="grid branch-table" aria-labelledby="branch-health-title">
            <thead>
              <tr>
                <th scope="col">Branch</th>
                <th scope="col">Now</th>
                <th scope="col">Time to green p50 / p95</th>
                <th scope="col">Red</th>
                <th scope="col">Longest red spell</th>
                <th scope="col">Failures</th>
              </tr>
            </thead>
            <tbody>
              {branches.map((b) => (
                <Row key={`${b.repo}|${b.branch}`} b={b} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </article>
  );
}

function Row({ b }: { b: Branch }) {
  const zone = useZone();
  const now = useNow();
  const name = `${b.repo} · ${b.branch}`;
  return (
    <tr data-branch={name} data-red={b.red_since ? "true" : undefined}>
      <th scope="row" className="truncate" title={name}>
        {b.repo} <span className="muted">·</span> {b.branch}
      </th>
      <td>
        {b.red_since ? (
          <span className="status failure" title={formatTime(b.red_since, zone, "full")}>
            red since {formatTime(b.red_since, zone)} ({formatElapsed((now - Date.parse(b.red_since)) / 1000)})
          </span>
        ) : b.runs > 0 ? (
          <span className="status success">green</span>
        ) : (
          <span className="muted">no runs</span>
        )}
      </td>
      <td className="figure">
        {formatDuration(b.time_to_green_p50_seconds)} / {formatDuration(b.time_to_green_p95_seconds)}
        {b.recoveries > 0 && (
          <span className="muted small">
            {" "}
            ({formatCount(b.recoveries)} {b.recoveries === 1 ? "recovery" : "recoveries"})
          </span>
        )}
      </td>
      <td>
        {/* Green while red a tenth of the time at most, amber up to a quarter, red beyond. */}
        <meter
          min={0}
          max={1}
          low={0.1}
          high={0.25}
          optimum={0}
          value={b.red_share}
          aria-label={`Share of the period ${name} was red`}
        />{" "}
        {formatPercent(b.red_share)}
      </td>
      <td>{formatDuration(b.longest_red_seconds)}</td>
      <td>
        {formatCount(b.failures)} of {formatCount(b.runs)}
      </td>
    </tr>
  );
}
