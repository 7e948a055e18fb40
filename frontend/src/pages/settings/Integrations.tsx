// Integrations: Slack and webhook targets. Secrets are write-only: the list shows a masked URL,
// and an edit that leaves the URL empty keeps the stored one.
import { useState } from "react";
import { useSendTest } from "../../api/alerts";
import type { IntegrationInfo, Schemas } from "../../api/client";
import { MANAGE_INTEGRATIONS, useDeleteIntegration, useIntegrations, useSaveIntegration } from "../../api/integrations";
import { ErrorBox, Skeleton } from "../../components/common";
import { formatAgo } from "../../lib/format";
import { useNow } from "../../lib/useNow";

type Spec = Schemas["IntegrationSpec"];

interface Draft {
  id: number | null;
  name: string;
  type: Spec["type"];
  url: string;
  channel: string;
  hmac: string;
  hasHmac: boolean;
  sendResolved: boolean;
  suspend: boolean;
}

function draftOf(i: IntegrationInfo | null): Draft {
  const spec = i?.spec;
  return {
    id: i?.id ?? null,
    name: i?.name ?? "",
    type: spec?.type ?? "Slack",
    url: "",
    channel: spec?.slack?.channel ?? "",
    hmac: "",
    hasHmac: !!spec?.webhook?.hmacSecret,
    sendResolved: spec?.sendResolved ?? true,
    suspend: spec?.suspend ?? false,
  };
}

/** The request spec of a draft; empty secrets are sent as `{}` (kept on edit, required on create). */
function specOf(d: Draft): Spec {
  const secret = (v: string) => (v.trim() ? { value: v.trim() } : {});
  return d.type === "Slack"
    ? {
        type: "Slack",
        sendResolved: d.sendResolved,
        suspend: d.suspend,
        slack: { webhookUrl: secret(d.url), channel: d.channel.trim() || null },
      }
    : {
        type: "Webhook",
        sendResolved: d.sendResolved,
        suspend: d.suspend,
        webhook: { url: secret(d.url), hmacSecret: d.hmac.trim() || d.hasHmac ? secret(d.hmac) : null },
      };
}

export function Integrations() {
  const now = new Date(useNow());
  const [draft, setDraft] = useState<Draft | null>(null);
  const list = useIntegrations(MANAGE_INTEGRATIONS);
  const save = useSaveIntegration({ onSuccess: () => setDraft(null) });
  const remove = useDeleteIntegration();
  const test = useSendTest(MANAGE_INTEGRATIONS);

  return (
    <section className="card" aria-labelledby="integrations-title">
      <div className="chart-head">
        <h2 id="integrations-title">Integrations</h2>
        <span className="spacer" />
        <button
          type="button"
          className="btn"
          onClick={() => {
            save.reset();
            setDraft(draftOf(null));
          }}
        >
          Add integration
        </button>
      </div>
      {draft && (
        <form
          className="card"
          aria-label={draft.id == null ? "New integration" : `Edit ${draft.name}`}
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate({ id: draft.id, name: draft.name, spec: specOf(draft) });
          }}
        >
          <div className="form-grid">
            <label className="field">
              Name
              <input
                type="text"
                value={draft.name}
                required
                onChange={(e) => setDraft({ ...draft, name: e.target.value })}
              />
            </label>
            <label className="field">
              Type
              <select value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.target.value as Spec["type"] })}>
                <option value="Slack">Slack incoming webhook</option>
                <option value="Webhook">Generic webhook (JSON)</option>
              </select>
            </label>
            <label className="field">
              {draft.type === "Slack" ? "Webhook URL" : "URL"}
              <input
                type="password"
                autoComplete="off"
                value={draft.url}
                placeholder={
                  draft.id != null
                    ? "unchanged (write-only)"
                    : draft.type === "Slack"
                      ? "https://hooks.slack.com/services/…"
                      : "https://…"
                }
                required={draft.id == null}
                onChange={(e) => setDraft({ ...draft, url: e.target.value })}
              />
            </label>
            {draft.type === "Slack" ? (
              <label className="field">
                Channel (informational)
                <input
                  type="text"
                  value={draft.channel}
                  placeholder="#ci-alerts"
                  onChange={(e) => setDraft({ ...draft, channel: e.target.value })}
                />
              </label>
            ) : (
              <label className="field">
                HMAC secret (X-CICD-Signature-256)
                <input
                  type="password"
                  autoComplete="off"
                  value={draft.hmac}
                  placeholder={draft.hasHmac ? "unchanged (write-only)" : "optional"}
                  onChange={(e) => setDraft({ ...draft, hmac: e.target.value })}
                />
              </label>
            )}
          </div>
          <div className="row">
            <label className="row">
              <input
                type="checkbox"
                checked={draft.sendResolved}
                onChange={(e) => setDraft({ ...draft, sendResolved: e.target.checked })}
              />{" "}
              Send "resolved" messages
            </label>
            <label className="row">
              <input
                type="checkbox"
                checked={draft.suspend}
                onChange={(e) => setDraft({ ...draft, suspend: e.target.checked })}
              />{" "}
              Paused
            </label>
            <span className="spacer" />
            <button type="button" className="btn" onClick={() => setDraft(null)}>
              Cancel
            </button>
            <button type="submit" className="btn primary" disabled={save.isPending}>
              Save
            </button>
          </div>
          {save.isError && <ErrorBox error={save.error} />}
        </form>
      )}
      {test.data && (
        <p role="status">
          Test: {test.data.map((r) => `${r.integration} ${r.outcome}${r.error ? ` (${r.error})` : ""}`).join("; ")}
        </p>
      )}
      {(test.isError || remove.isError) && <ErrorBox error={test.error ?? remove.error} />}
      {list.isPending ? (
        <Skeleton />
      ) : list.isError ? (
        <ErrorBox error={list.error} retry={() => void list.refetch()} />
      ) : list.data.length === 0 ? (
        <p className="muted">
          No integrations yet. Add a Slack webhook or any HTTPS endpoint; alert rules notify them by name.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Target</th>
                <th scope="col">Health</th>
                <th scope="col">Managed by</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((i) => (
                <tr key={i.id}>
                  <td>
                    {i.name}
                    {i.spec.suspend && <span className="pill"> paused</span>}
                  </td>
                  <td>{i.type}</td>
                  <td className="mono truncate" title={i.url_hint}>
                    {i.url_hint}
                  </td>
                  <td>
                    {i.status.healthy ? (
                      <span className="status success">healthy</span>
                    ) : (
                      <span className="status failure">failing</span>
                    )}
                    {i.status.pending > 0 && <span className="pill"> {i.status.pending} waiting</span>}
                    {i.status.last_error && (
                      <div className="field-error" title={i.status.last_error_at ?? ""}>
                        {i.status.last_error}
                        {i.status.last_error_at ? ` (${formatAgo(i.status.last_error_at, now)})` : ""}
                      </div>
                    )}
                  </td>
                  <td>
                    {i.kubernetes ? (
                      <span className="pill">
                        Kubernetes {i.kubernetes.namespace}/{i.kubernetes.name}
                      </span>
                    ) : i.source === "env" ? (
                      <span className="pill">environment</span>
                    ) : (
                      "API"
                    )}
                  </td>
                  <td>
                    <div className="row">
                      <button
                        type="button"
                        className="btn small"
                        disabled={test.isPending}
                        onClick={() => test.mutate({ integration: i.name })}
                      >
                        Test
                      </button>
                      {i.source === "api" && (
                        <>
                          <button
                            type="button"
                            className="btn small"
                            onClick={() => {
                              save.reset();
                              setDraft(draftOf(i));
                            }}
                          >
                            Edit
                          </button>
                          <button
                            type="button"
                            className="btn small danger"
                            onClick={() =>
                              window.confirm(
                                `Delete integration "${i.name}"? Its waiting notifications are dropped.`,
                              ) && remove.mutate(i.id)
                            }
                          >
                            Delete
                          </button>
                        </>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
