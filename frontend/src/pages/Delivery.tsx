// Delivery: the four DORA keys of a service (or all) in the production environments (or one), each
// with its band, the period before and its trend; the deployments of the window per environment,
// newest first, with failures, rollbacks and incidents marked — a row opens the deployment's panel
// (its commits and lead times, its run, its incidents) — and the incidents in production.
import { useState } from "react";
import {
  useDeploymentNames,
  useDeploymentNear,
  useDeployments,
  useDora,
  useIncidents,
  type Deployment,
  type Dora,
  type ProductionIncident,
} from "../api/delivery";
import { DeltaText, DeploymentStatusBadge, ErrorBox, SelectableRow, Skeleton } from "../components/common";
import { usePalette } from "../components/chart-options";
import { DeploymentPanel } from "../components/DeploymentPanel";
import { Filters } from "../components/Filters";
import { Sparkline } from "../components/Kpis";
import { RunPanel } from "../components/RunPanel";
import { SeriesChart } from "../components/SeriesChart";
import {
  BANDS,
  byEnvironment,
  CAUSES,
  deploymentMarks,
  deploymentSeconds,
  incidentLink,
  keyCards,
  longestLead,
  restoreSeconds,
  shortSha,
  type KeyCard,
} from "../lib/delivery";
import { formatCount, formatDuration, formatTime } from "../lib/format";
import { useZone } from "../lib/prefs";
import type { View } from "../lib/url";

type OnView = (patch: Partial<View>, replace?: boolean) => void;

export function Delivery({ view, onView, theme }: { view: View; onView: OnView; theme: string }) {
  const dora = useDora(view);
  const deployments = useDeployments(view);
  const listed = deployments.data?.pages.flatMap((p) => p.deployments) ?? [];
  const open = view.deployment;
  const shown = open === undefined ? undefined : listed.find((d) => d.id === open);
  // Not in the timeline (an incident's deployment, made before the window): looked for near the incident.
  const incidents = useIncidents(view);
  const cause = incidents.data?.pages.flatMap((p) => p.incidents).find((i) => i.deployment_id === open);
  const near = useDeploymentNear(
    shown || deployments.isPending ? undefined : open,
    cause && { service: cause.service, environment: cause.environment, before: cause.started_at },
  );
  return (
    <>
      <Filters view={view} onView={onView} fields={[]}>
        <Scope key={`${view.service ?? ""}|${view.environment ?? ""}`} view={view} onView={onView} dora={dora.data} />
      </Filters>
      {dora.isPending ? (
        <section className="kpis">
          <Skeleton lines={4} />
        </section>
      ) : dora.isError ? (
        <ErrorBox error={dora.error} retry={() => void dora.refetch()} />
      ) : (
        <Keys dora={dora.data} theme={theme} onGrain={(group) => onView({ group })} />
      )}
      <Timeline view={view} onView={onView} />
      <Incidents view={view} onView={onView} />
      {view.run ? (
        <RunPanel
          id={view.run}
          onClose={() => onView({ run: undefined }, true)}
          onOpen={(run) => onView({ run }, true)}
          onOpenTest={(test) => onView({ page: "tests", test })}
        />
      ) : (
        open !== undefined && (
          <DeploymentPanel
            key={open}
            id={open}
            deployment={shown ?? near.data}
            loading={deployments.isPending || deployments.isFetchingNextPage || incidents.isPending || near.isFetching}
            onClose={() => onView({ deployment: undefined }, true)}
            onOpenRun={(run) => onView({ run }, true)}
          />
        )
      )}
    </>
  );
}

/**
 * The service and the environment, typed or picked from those deployed to in the window (and the
 * production environments named in the settings); applied together with Enter or Apply.
 */
function Scope({ view, onView, dora }: { view: View; onView: OnView; dora: Dora | undefined }) {
  const names = useDeploymentNames(view);
  const [service, setService] = useState(view.service ?? "");
  const [environment, setEnvironment] = useState(view.environment ?? "");
  const production = (dora?.production_environments ?? []).filter((e) => !/[*?[]/.test(e));
  const environments = [...new Set([...production, ...(names.data?.environments ?? [])])].sort();
  const patch = { service: service.trim() || undefined, environment: environment.trim() || undefined };
  const unchanged = patch.service === view.service && patch.environment === view.environment;
  return (
    <form
      className="row delivery-scope"
      aria-label="Service and environment"
      onSubmit={(e) => {
        e.preventDefault();
        if (!unchanged) onView({ ...patch, deployment: undefined });
      }}
    >
      <label className="field">
        Service
        <input
          type="text"
          list="delivery-services"
          placeholder="All services"
          spellCheck={false}
          value={service}
          onChange={(e) => setService(e.target.value)}
        />
      </label>
      <datalist id="delivery-services">
        {(names.data?.services ?? []).map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <label className="field">
        Environment
        <input
          type="text"
          list="delivery-environments"
          placeholder="Production environments"
          spellCheck={false}
          value={environment}
          onChange={(e) => setEnvironment(e.target.value)}
        />
      </label>
      <datalist id="delivery-environments">
        {environments.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <button type="submit" className="btn" disabled={unchanged}>
        Apply
      </button>
      {(view.service || view.environment) && (
        <button
          type="button"
          className="btn ghost"
          onClick={() => onView({ service: undefined, environment: undefined, deployment: undefined })}
        >
          Clear service and environment
        </button>
      )}
    </form>
  );
}

function BandBadge({ band, edition }: { band: KeyCard["band"]; edition: string }) {
  if (!band) return <span className="band none">no band</span>;
  return (
    <span className={`band ${band}`} title={`The ${band} cluster of the ${edition}`} data-band={band}>
      {BANDS[band]}
    </span>
  );
}

function Keys({ dora, theme, onGrain }: { dora: Dora; theme: string; onGrain: (g: "day" | "week") => void }) {
  const cards = keyCards(dora);
  const causes = CAUSES.filter(([c]) => dora.change_failure_causes.includes(c)).map(([, label]) => label.toLowerCase());
  return (
    <>
      <section className="kpis dora-keys" aria-label="DORA keys">
        {cards.map((k) => (
          <article className={`card kpi dora-key ${k.band ?? "none"}`} key={k.id} aria-label={k.label}>
            <div className="row">
              <span className="label" title={k.hint}>
                {k.label}
              </span>
              <span className="spacer" />
              <BandBadge band={k.band} edition={dora.bands_edition} />
            </div>
            <span className="value" data-testid={`dora-${k.id}`}>
              {k.value}
            </span>
            <span className="muted small">
              {k.detail && <>{k.detail} · </>}
              {k.sample}
            </span>
            <DeltaText delta={k.delta} />
            <span className="muted small" data-testid={`dora-${k.id}-previous`}>
              {k.previous}
            </span>
            <Sparkline values={k.points.map((p) => p.value)} label={`${k.label} per ${dora.group_by}`} />
          </article>
        ))}
      </section>
      <p className="muted small dora-scope">
        {dora.service ? `Service ${dora.service}` : "Every service"},{" "}
        {dora.environment
          ? `environment ${dora.environment}`
          : `production environments: ${dora.production_environments.join(", ")}`}
        . Failed changes: {causes.join(", ")} (Settings → Delivery). Bands: {dora.bands_edition}.
      </p>
      <Trends dora={dora} cards={cards} theme={theme} onGrain={onGrain} />
    </>
  );
}

function Trends({
  dora,
  cards,
  theme,
  onGrain,
}: {
  dora: Dora;
  cards: KeyCard[];
  theme: string;
  onGrain: (g: "day" | "week") => void;
}) {
  const palette = usePalette(theme);
  const grain = dora.group_by;
  const toggle = (
    <div className="seg" role="group" aria-label="Group by">
      {(["day", "week"] as const).map((g) => (
        <button key={g} type="button" aria-pressed={grain === g} onClick={() => onGrain(g)}>
          {g}
        </button>
      ))}
    </div>
  );
  return (
    <section className="charts dora-trends" aria-label="Trends">
      {cards.map((k, i) => (
        <SeriesChart
          key={k.id}
          title={k.label}
          testId={`dora-chart-${k.id}`}
          times={k.points.map((p) => p.start)}
          unit={k.unit}
          grain={grain}
          theme={theme}
          bars={k.id === "deployment_frequency"}
          lines={[{ label: k.label.toLowerCase(), color: palette.accent, values: k.points.map((p) => p.value) }]}
          totals={[k.value]}
          summary={`${k.label} per ${grain}: ${k.value} over the window${k.band ? ` (${BANDS[k.band].toLowerCase()})` : ""}, ${k.sample}.`}
          head={i === 0 ? toggle : undefined}
        />
      ))}
    </section>
  );
}

function Marks({ d }: { d: Deployment }) {
  const marks = deploymentMarks(d);
  if (marks.length === 0) return null;
  return (
    <span className="row marks">
      {marks.map((m) => (
        <span key={m} className={`pill ${m === "rollback" || m === "removal" ? "warn" : "bad"}`}>
          {m}
        </span>
      ))}
    </span>
  );
}

function Timeline({ view, onView }: { view: View; onView: OnView }) {
  const zone = useZone();
  const deployments = useDeployments(view);
  const listed = deployments.data?.pages.flatMap((p) => p.deployments) ?? [];
  const groups = byEnvironment(listed);
  const all = view.envs === "all";
  return (
    <article className="card deployments" aria-labelledby="deployments-title">
      <div className="chart-head">
        <h2 id="deployments-title">Deployments</h2>
        {deployments.data && (
          <span className="muted">
            {formatCount(listed.length)}
            {deployments.hasNextPage ? "+" : ""} in this period
          </span>
        )}
        <span className="spacer" />
        {!view.environment && (
          <div className="seg" role="group" aria-label="Environments shown">
            <button type="button" aria-pressed={!all} onClick={() => onView({ envs: undefined })}>
              Production
            </button>
            <button type="button" aria-pressed={all} onClick={() => onView({ envs: "all" })}>
              All environments
            </button>
          </div>
        )}
      </div>
      {deployments.isPending ? (
        <Skeleton lines={6} />
      ) : deployments.isError ? (
        <ErrorBox error={deployments.error} retry={() => void deployments.refetch()} />
      ) : listed.length === 0 ? (
        <p className="muted">
          No deployments {view.environment ? `to ${view.environment}` : all ? "" : "to production"} in this period.
          Deployments come from GitHub <code>deployment_status</code> and GitLab deployment hooks, CDEvents, and{" "}
          <code>POST /api/deployments</code>.
        </p>
      ) : (
        groups.map(([environment, list]) => (
          <section key={environment} className="environment" aria-labelledby={`env-${environment}`}>
            <h3 id={`env-${environment}`}>
              {environment} <span className="muted small">{formatCount(list.length)}</span>
            </h3>
            <div className="table-wrap">
              <table className="grid deployments-table" aria-labelledby={`env-${environment}`}>
                <thead>
                  <tr>
                    <th scope="col" aria-sort="descending">
                      Deployed<span aria-hidden="true"> ▼</span>
                    </th>
                    <th scope="col">Service</th>
                    <th scope="col">Status</th>
                    <th scope="col">Marked</th>
                    <th scope="col">Commit</th>
                    <th scope="col">Commits</th>
                    <th scope="col">Longest lead time</th>
                    <th scope="col">Took</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((d) => (
                    <SelectableRow
                      key={d.id}
                      selected={view.deployment === d.id}
                      onSelect={() => onView({ deployment: d.id }, true)}
                      data-deployment-id={d.id}
                      data-status={d.status}
                      data-kind={d.kind}
                      data-incidents={d.incidents.length}
                    >
                      <td className="when" title={formatTime(d.created_at, zone, "full")}>
                        {formatTime(d.created_at, zone)}
                      </td>
                      <td className="truncate" title={d.repo ?? undefined}>
                        {d.service}
                      </td>
                      <td>
                        <DeploymentStatusBadge status={d.status} />
                      </td>
                      <td>
                        <Marks d={d} />
                      </td>
                      <td className="mono" title={d.sha ?? undefined}>
                        {shortSha(d.sha)}
                      </td>
                      <td>{formatCount(d.commit_count)}</td>
                      <td>{formatDuration(longestLead(d))}</td>
                      <td>{formatDuration(deploymentSeconds(d))}</td>
                    </SelectableRow>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        ))
      )}
      {deployments.hasNextPage && (
        <div className="row pager">
          <button
            type="button"
            className="btn"
            disabled={deployments.isFetchingNextPage}
            onClick={() => void deployments.fetchNextPage()}
          >
            {deployments.isFetchingNextPage ? "Loading…" : "Load more deployments"}
          </button>
        </div>
      )}
    </article>
  );
}

function Incidents({ view, onView }: { view: View; onView: OnView }) {
  const zone = useZone();
  const incidents = useIncidents(view);
  const listed: ProductionIncident[] = incidents.data?.pages.flatMap((p) => p.incidents) ?? [];
  return (
    <article className="card" aria-labelledby="production-incidents-title">
      <div className="chart-head">
        <h2 id="production-incidents-title">Incidents in production</h2>
        {incidents.data && (
          <span className="muted">
            {formatCount(listed.length)}
            {incidents.hasNextPage ? "+" : ""} in this period
          </span>
        )}
      </div>
      {incidents.isPending ? (
        <Skeleton lines={3} />
      ) : incidents.isError ? (
        <ErrorBox error={incidents.error} retry={() => void incidents.refetch()} />
      ) : listed.length === 0 ? (
        <p className="muted">
          No incident started in this period. Incidents come from CDEvents and <code>POST /api/incidents</code>.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="grid" aria-labelledby="production-incidents-title">
            <thead>
              <tr>
                <th scope="col" aria-sort="descending">
                  Started<span aria-hidden="true"> ▼</span>
                </th>
                <th scope="col">Incident</th>
                <th scope="col">Service</th>
                <th scope="col">Environment</th>
                <th scope="col">Restored in</th>
                <th scope="col">Deployment</th>
              </tr>
            </thead>
            <tbody>
              {listed.map((i) => {
                const restored = restoreSeconds(i);
                const link = incidentLink(i.link);
                return (
                  <tr key={i.id} data-incident-id={i.id}>
                    <td className="when" title={formatTime(i.started_at, zone, "full")}>
                      {formatTime(i.started_at, zone)}
                    </td>
                    <td>
                      {i.url ? (
                        <a href={i.url} target="_blank" rel="noopener noreferrer">
                          {i.title ?? i.external_id}
                        </a>
                      ) : (
                        (i.title ?? i.external_id)
                      )}
                    </td>
                    <td>{i.service}</td>
                    <td>{i.environment ?? "—"}</td>
                    <td>{restored == null ? <span className="pill bad">open</span> : formatDuration(restored)}</td>
                    <td>
                      {i.deployment_id != null ? (
                        <span className="row">
                          <button
                            type="button"
                            className="btn small"
                            aria-label={`Open the deployment of ${i.title ?? i.external_id}`}
                            onClick={() => onView({ deployment: i.deployment_id! }, true)}
                          >
                            Open deployment
                          </button>
                          {link && (
                            <span className="pill" title={`Linked: ${link}`}>
                              {link}
                            </span>
                          )}
                        </span>
                      ) : (
                        <span className="muted">not linked</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {incidents.hasNextPage && (
        <div className="row pager">
          <button
            type="button"
            className="btn"
            disabled={incidents.isFetchingNextPage}
            onClick={() => void incidents.fetchNextPage()}
          >
            {incidents.isFetchingNextPage ? "Loading…" : "Load more incidents"}
          </button>
        </div>
      )}
    </article>
  );
}
