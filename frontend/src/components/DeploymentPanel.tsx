// The side panel of one deployment: every field of it, the commits it shipped first to its
// environment with their lead times, the run that built it (which opens in the run panel) and the
// incidents linked to it. A modal like the run panel: the page behind it is inert, Escape closes
// it, and focus goes back to the deployment's row.
import { useRef, useState, type ReactNode } from "react";
import { createPortal } from "react-dom";
import type { Deployment } from "../api/delivery";
import { deploymentMarks, deploymentSeconds, incidentLink, restoreSeconds, shortSha } from "../lib/delivery";
import { formatCount, formatDuration, formatTime, type TimeZone } from "../lib/format";
import { useSidePanel } from "../lib/inert";
import { useZone } from "../lib/prefs";
import { DeploymentStatusBadge, Skeleton } from "./common";

const none = "—";
const text = (v: string | number | null | undefined) => (v == null || v === "" ? none : String(v));
const full = (v: string | null | undefined, zone: TimeZone) => formatTime(v, zone, "full");

/** Every field of a deployment but its commits and incidents (sections of their own), in the order shown. */
const FIELDS: Record<
  Exclude<keyof Deployment, "commits" | "incidents" | "run_id" | "id">,
  { label: string; show: (d: Deployment, zone: TimeZone) => ReactNode }
> = {
  status: { label: "Status", show: (d) => <DeploymentStatusBadge status={d.status} /> },
  kind: { label: "Kind", show: (d) => d.kind },
  service: { label: "Service", show: (d) => d.service },
  environment: { label: "Environment", show: (d) => d.environment },
  repo: { label: "Repository", show: (d) => text(d.repo) },
  sha: {
    label: "Commit",
    show: (d) => (
      <span className="mono" title={d.sha ?? undefined}>
        {text(d.sha)}
      </span>
    ),
  },
  ref: { label: "Ref", show: (d) => text(d.ref) },
  creator: { label: "Deployed by", show: (d) => text(d.creator) },
  artifact: { label: "Artifact", show: (d) => <span className="mono">{text(d.artifact)}</span> },
  created_at: { label: "Created", show: (d, z) => full(d.created_at, z) },
  finished_at: { label: "Finished", show: (d, z) => full(d.finished_at, z) },
  commit_count: { label: "Commits shipped", show: (d) => formatCount(d.commit_count) },
  description: { label: "Description", show: (d) => text(d.description) },
  source: { label: "Source", show: (d) => d.source },
  external_id: { label: "Id there", show: (d) => <span className="mono">{d.external_id}</span> },
  url: {
    label: "URL",
    show: (d) =>
      d.url ? (
        <a href={d.url} target="_blank" rel="noopener noreferrer">
          {d.url}
        </a>
      ) : (
        none
      ),
  },
};

function Details({ d, onOpenRun }: { d: Deployment; onOpenRun: (run: string) => void }) {
  const zone = useZone();
  const marks = deploymentMarks(d);
  const took = deploymentSeconds(d);
  return (
    <>
      {marks.length > 0 && (
        <p className="row">
          {marks.map((m) => (
            <span key={m} className={`pill ${m === "rollback" || m === "removal" ? "warn" : "bad"}`}>
              {m}
            </span>
          ))}
        </p>
      )}
      <dl className="fields">
        {Object.entries(FIELDS).map(([key, f]) => (
          <div key={key} className="field-row" data-field={key}>
            <dt>{f.label}</dt>
            <dd>{f.show(d, zone)}</dd>
          </div>
        ))}
        <div className="field-row" data-field="duration">
          <dt>Took</dt>
          <dd>{took == null ? none : formatDuration(took)}</dd>
        </div>
      </dl>
      <section aria-labelledby="deployment-run">
        <h3 id="deployment-run">Built by</h3>
        {d.run_id ? (
          <p className="row">
            <span className="mono">{d.run_id}</span>
            <button
              type="button"
              className="btn small"
              onClick={() => onOpenRun(d.run_id!)}
              aria-label={`Open run ${d.run_id}`}
            >
              Open run
            </button>
          </p>
        ) : (
          <p className="muted">The deployment did not name the run that built it.</p>
        )}
      </section>
      <Commits d={d} />
      <Incidents d={d} />
    </>
  );
}

function Commits({ d }: { d: Deployment }) {
  const zone = useZone();
  return (
    <section aria-labelledby="deployment-commits">
      <h3 id="deployment-commits">Commits ({formatCount(d.commit_count)})</h3>
      {d.commits.length === 0 ? (
        <p className="muted">
          {d.status === "success" || d.status === "inactive"
            ? "No commit shipped first here: the deployment named none, and no push to its environment's commits was received."
            : "Commits count once the deployment succeeds."}
        </p>
      ) : (
        <>
          <div className="table-wrap">
            <table className="grid" aria-labelledby="deployment-commits">
              <thead>
                <tr>
                  <th scope="col">Commit</th>
                  <th scope="col">Committed</th>
                  <th scope="col">Merged</th>
                  <th scope="col" aria-sort="descending">
                    Lead time<span aria-hidden="true"> ▼</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.commits.map((c) => (
                  <tr key={c.sha} data-sha={c.sha}>
                    <td className="mono" title={c.sha}>
                      {shortSha(c.sha)}
                    </td>
                    <td className="when">{formatTime(c.committed_at, zone)}</td>
                    <td className="when">{formatTime(c.merged_at, zone)}</td>
                    <td>{formatDuration(c.lead_seconds)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {d.commit_count > d.commits.length && (
            <p className="muted small">
              The {formatCount(d.commits.length)} with the longest lead time of {formatCount(d.commit_count)}.
            </p>
          )}
        </>
      )}
    </section>
  );
}

function Incidents({ d }: { d: Deployment }) {
  const zone = useZone();
  return (
    <section aria-labelledby="deployment-incidents">
      <h3 id="deployment-incidents">Incidents ({formatCount(d.incidents.length)})</h3>
      {d.incidents.length === 0 ? (
        <p className="muted">No incident is linked to this deployment.</p>
      ) : (
        <ul className="incidents">
          {d.incidents.map((i) => {
            const link = incidentLink(i.link);
            const restored = restoreSeconds(i);
            return (
              <li key={i.id} data-incident-id={i.id}>
                <div className="row">
                  <strong>{i.title ?? i.external_id}</strong>
                  {link && (
                    <span
                      className="pill"
                      title={
                        link === "named"
                          ? "The incident named this deployment or its artifact"
                          : link === "inferred"
                            ? "The last successful deployment of its service before the incident started"
                            : undefined
                      }
                    >
                      {link}
                    </span>
                  )}
                  <span className="spacer" />
                  {i.url && (
                    <a className="btn small ghost" href={i.url} target="_blank" rel="noopener noreferrer">
                      Open incident ↗
                    </a>
                  )}
                </div>
                <span className="muted small">
                  Started {formatTime(i.started_at, zone)}
                  {i.resolved_at
                    ? `, resolved ${formatTime(i.resolved_at, zone)} (restored in ${formatDuration(restored)})`
                    : ", not resolved"}
                  {" · "}
                  {i.source} <span className="mono">{i.external_id}</span>
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

export function DeploymentPanel({
  id,
  deployment,
  loading,
  onClose,
  onOpenRun,
}: {
  id: number;
  /** The deployment, when it is among those listed. */
  deployment: Deployment | undefined;
  /** The list is still loading (or loading more). */
  loading: boolean;
  onClose: () => void;
  onOpenRun: (run: string) => void;
}) {
  const closeRef = useRef<HTMLButtonElement>(null);
  const [firstId] = useState(id);
  useSidePanel(closeRef, onClose, () => document.querySelector<HTMLElement>(`tr[data-deployment-id="${firstId}"]`));

  const d = deployment;
  return createPortal(
    <div className="panel-layer">
      <div className="panel-backdrop" onClick={onClose} aria-hidden="true" />
      <aside className="panel" role="dialog" aria-modal="true" aria-labelledby="deployment-title">
        <div className="row panel-head">
          <h2 id="deployment-title">{d ? `Deployment of ${d.service} to ${d.environment}` : `Deployment ${id}`}</h2>
          <span className="spacer" />
          {d?.url && (
            <a className="btn small" href={d.url} target="_blank" rel="noopener noreferrer">
              Open where it ran ↗
            </a>
          )}
          <button
            ref={closeRef}
            type="button"
            className="btn small"
            onClick={onClose}
            aria-label="Close deployment details"
          >
            ✕
          </button>
        </div>
        {d ? (
          <Details d={d} onOpenRun={onOpenRun} />
        ) : loading ? (
          <Skeleton lines={8} />
        ) : (
          <p className="muted">
            Deployment {id} is not among the deployments listed: it may be outside this window or these filters, or
            further down the list (Load more).
          </p>
        )}
      </aside>
    </div>,
    document.body,
  );
}
