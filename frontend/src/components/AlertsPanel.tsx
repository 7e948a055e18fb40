// Active incidents, with acknowledge and mute, and a test message through an integration.
import { useEffect, useRef, useState } from "react";
import { useAlerts, useIncidentAction, useSendTest } from "../api/alerts";
import type { Incident } from "../api/client";
import { useIntegrations } from "../api/integrations";
import { formatAgo, formatTime, valueVsThreshold } from "../lib/format";
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

export function AlertsPanel() {
  const zone = useZone();
  const now = new Date(useNow());
  const alerts = useAlerts();
  const [testing, setTesting] = useState(false);
  const act = useIncidentAction();

  const list = alerts.data ?? [];
  return (
    <article className="card alerts" aria-labelledby="alerts-title">
      <div className="chart-head">
        <h2 id="alerts-title">Alerts {list.length > 0 && <span className="pill">{list.length} active</span>}</h2>
        <span className="spacer" />
        <button type="button" className="btn small" onClick={() => setTesting(true)}>
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
              <div className="labels">
                {Object.entries(i.labels as Record<string, string>)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(" · ") || "all runs"}
              </div>
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
