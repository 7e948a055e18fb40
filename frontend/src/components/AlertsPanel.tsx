// Active incidents (their group, the runs that caused them, their rule), with acknowledge and mute,
// and a test message through an integration.
import { Fragment, useEffect, useRef, useState } from "react";
import { useAlerts, useIncidentAction, useSendTest } from "../api/alerts";
import type { Incident } from "../api/client";
import { useIntegrations } from "../api/integrations";
import { formatAgo, formatTime, valueVsThreshold } from "../lib/format";
import { DEFAULT_RANGE, formatView } from "../lib/url";
import { useZone } from "../lib/prefs";
import { useNow } from "../lib/useNow";
import { ErrorBox, Skeleton } from "./common";

const MUTES = [
  ["1h", "1 hour"],
  ["4h", "4 hours"],
  ["1d", "1 day"],
  ["7d", "7 days"],
] as const;

/** Mute for a chosen time: the choice, then a button (changing the choice alone does nothing). */
function MuteControl({
  incident,
  disabled,
  onMute,
}: {
  incident: Incident;
  disabled: boolean;
  onMute: (duration: string) => void;
}) {
  const [duration, setDuration] = useState<string>(MUTES[0][0]);
  return (
    <form
      className="row mute"
      onSubmit={(e) => {
        e.preventDefault();
        onMute(duration);
      }}
    >
      <label className="row">
        <span className="sr-only">Mute {incident.rule_name} for</span>
        <select value={duration} onChange={(e) => setDuration(e.target.value)} disabled={disabled}>
          {MUTES.map(([v, label]) => (
            <option key={v} value={v}>
              for {label}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="btn small" disabled={disabled} aria-label={`Mute ${incident.rule_name}`}>
        Mute
      </button>
    </form>
  );
}

/** The group labels of an incident, in words. */
const LABELS: Record<string, string> = {
  repo: "Repository",
  workflow: "Workflow",
  branch: "Branch",
  test: "Test",
  suite: "Suite",
  service: "Service",
};

/**
 * The tests view with a test's history open, for an incident of a test rule (its `repo` and
 * `test_id` labels, as the rule's notifications link it), or `null`.
 */
function testHistoryHref(labels: Record<string, string>): string | null {
  const id = Number(labels.test_id);
  if (!labels.repo || !Number.isSafeInteger(id) || id <= 0) return null;
  return formatView({ page: "tests", range: DEFAULT_RANGE, sort: "newest", test: { id, repo: labels.repo } });
}

/** The delivery view of a service, for an incident of a deployment rule (its `service` label). */
function deliveryHref(labels: Record<string, string>): string | null {
  if (!labels.service) return null;
  return formatView({ page: "delivery", range: DEFAULT_RANGE, sort: "newest", service: labels.service });
}

/** How many of an incident's runs its card links to. */
const SHOWN_RUNS = 3;

export function AlertsPanel({ onOpenRun }: { onOpenRun: (id: string) => void }) {
  const zone = useZone();
  const now = new Date(useNow());
  const alerts = useAlerts();
  const [testing, setTesting] = useState(false);
  const act = useIncidentAction();
  // Without a token the list is an error, and the button stays: its dialog asks for one.
  const integrations = useIntegrations();
  const noIntegration = integrations.data?.length === 0;

  const list = alerts.data ?? [];
  return (
    <article className="card alerts" aria-labelledby="alerts-title">
      <div className="chart-head">
        <h2 id="alerts-title">Alerts {list.length > 0 && <span className="pill">{list.length} active</span>}</h2>
        <span className="spacer" />
        {noIntegration && (
          <span className="muted small" id="test-unavailable">
            No integration to send through: add one under Settings → Integrations.
          </span>
        )}
        <button
          type="button"
          className="btn small"
          onClick={() => setTesting(true)}
          disabled={noIntegration}
          aria-describedby={noIntegration ? "test-unavailable" : undefined}
        >
          Send test message
        </button>
      </div>
      {act.isError && <ErrorBox error={act.error} />}
      {alerts.isPending ? (
        <Skeleton lines={3} />
      ) : alerts.isError ? (
        <ErrorBox error={alerts.error} retry={() => void alerts.refetch()} />
      ) : list.length === 0 ? (
        <p className="muted">No active incidents. Rules are under Settings → Alert rules.</p>
      ) : (
        <ul className="incidents">
          {list.map((i) => (
            <li key={i.id} data-incident-id={i.id}>
              <div className="row">
                <span className={`sev ${i.severity}`}>{i.severity}</span>
                <strong>{i.rule_name}</strong>
                <span className="pill">{i.state}</span>
                {i.acknowledged_at && <span className="pill">acknowledged</span>}
                {i.muted_until && new Date(i.muted_until) > now && (
                  <span className="pill" title={formatTime(i.muted_until, zone, "full")}>
                    muted until {formatTime(i.muted_until, zone)}
                  </span>
                )}
              </div>
              <IncidentDetails incident={i} onOpenRun={onOpenRun} />
              <div className="row muted">
                <span title={formatTime(i.firing_at ?? i.started_at, zone, "full")}>
                  since {formatAgo(i.firing_at ?? i.started_at, now)}
                </span>
                {valueVsThreshold(i) && <span>value {valueVsThreshold(i)}</span>}
              </div>
              <div className="row">
                {!i.acknowledged_at && (
                  <button
                    type="button"
                    className="btn small"
                    disabled={act.isPending}
                    onClick={() => act.mutate({ id: i.id, action: "ack" })}
                    aria-label={`Acknowledge ${i.rule_name}`}
                  >
                    Acknowledge
                  </button>
                )}
                <MuteControl
                  incident={i}
                  disabled={act.isPending}
                  onMute={(duration) => act.mutate({ id: i.id, action: "mute", duration })}
                />
              </div>
            </li>
          ))}
        </ul>
      )}
      {testing && <TestDialog onClose={() => setTesting(false)} />}
    </article>
  );
}

function IncidentDetails({ incident, onOpenRun }: { incident: Incident; onOpenRun: (id: string) => void }) {
  const group = incident.labels as Record<string, string>;
  const history = testHistoryHref(group);
  const delivery = deliveryHref(group);
  // A test's id is for the link to its history, not to read.
  const labels = Object.entries(group).filter(([k]) => !(history && k === "test_id"));
  const runs = incident.run_ids.slice(0, SHOWN_RUNS);
  return (
    <dl className="fields incident-fields">
      {labels.length === 0 ? (
        <>
          <dt>Runs</dt>
          <dd>all runs</dd>
        </>
      ) : (
        labels.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{LABELS[k] ?? k}</dt>
            <dd>
              {k === "test" && history ? (
                <a href={history}>{v}</a>
              ) : k === "service" && delivery ? (
                <a href={delivery}>{v}</a>
              ) : (
                v
              )}
            </dd>
          </Fragment>
        ))
      )}
      {runs.length > 0 && (
        <>
          <dt>Caused by</dt>
          <dd>
            {runs.map((id, n) => (
              <Fragment key={id}>
                {n > 0 && ", "}
                <button type="button" className="link" onClick={() => onOpenRun(id)} title={`Open run ${id}`}>
                  {id}
                </button>
              </Fragment>
            ))}
            {incident.run_ids.length > SHOWN_RUNS && ` and ${incident.run_ids.length - SHOWN_RUNS} more`}
          </dd>
        </>
      )}
      <dt>Rule</dt>
      <dd>
        <a href={`/settings#rule-${encodeURIComponent(incident.rule_name)}`}>{incident.rule_name}</a>
      </dd>
    </dl>
  );
}

function TestDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [name, setName] = useState("");
  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);
  const integrations = useIntegrations("Listing integrations needs an admin token.");
  const send = useSendTest("Sending a test message needs an admin token.");
  return (
    <dialog ref={ref} aria-labelledby="test-title" onCancel={onClose} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          send.mutate(name ? { integration: name } : {});
        }}
      >
        <h2 id="test-title">Send a test message</h2>
        {integrations.isError ? (
          <ErrorBox error={integrations.error} retry={() => void integrations.refetch()} />
        ) : (
          <label className="field">
            Integration
            <select value={name} onChange={(e) => setName(e.target.value)} disabled={integrations.isPending}>
              <option value="">all integrations</option>
              {(integrations.data ?? []).map((i) => (
                <option key={i.id} value={i.name}>
                  {i.name} ({i.type})
                </option>
              ))}
            </select>
          </label>
        )}
        {send.isError && <ErrorBox error={send.error} />}
        {send.data && (
          <ul aria-label="Results">
            {send.data.map((r) => (
              <li key={r.integration}>
                <strong>{r.integration}</strong>: {r.outcome}
                {r.error ? ` — ${r.error}` : ""}
              </li>
            ))}
          </ul>
        )}
        <div className="row">
          <span className="spacer" />
          <button type="button" className="btn" onClick={onClose}>
            Close
          </button>
          <button type="submit" className="btn primary" disabled={send.isPending}>
            {send.isPending ? "Sending…" : "Send"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
