// The audit log: who did what to which setting, newest first, filtered by kind of target and
// action, a page of 25 at a time.
import { useState } from "react";
import { useAudit } from "../../api/audit";
import type { AuditFilter } from "../../api/params";
import { ErrorBox, Skeleton } from "../../components/common";
import { formatTime } from "../../lib/format";
import { useZone } from "../../lib/prefs";

const KINDS = ["token", "alert_rule", "integration", "webhook_source", "incident", "settings"];

/** The detail of an entry in a line: `key: value` pairs. */
function detail(d: unknown): string {
  if (!d || typeof d !== "object") return "";
  return Object.entries(d as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}

export function AuditLog() {
  const zone = useZone();
  const [kind, setKind] = useState("");
  const [action, setAction] = useState("");
  // The cursors of the pages before this one: "Newer" pops, "Older" pushes.
  const [cursors, setCursors] = useState<string[]>([]);
  const filter: AuditFilter = {
    ...(kind ? { target_kind: kind } : {}),
    ...(action.trim() ? { action: action.trim() } : {}),
    ...(cursors.length ? { cursor: cursors[cursors.length - 1] } : {}),
  };
  const audit = useAudit(filter);
  const refilter = (set: () => void) => {
    set();
    setCursors([]);
  };

  return (
    <section className="card" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <div className="row">
        <label className="field">
          Target
          <select value={kind} onChange={(e) => refilter(() => setKind(e.target.value))}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Action
          <input
            type="search"
            value={action}
            onChange={(e) => refilter(() => setAction(e.target.value))}
            placeholder="token.revoked"
          />
        </label>
      </div>
      {audit.isPending ? (
        <Skeleton />
      ) : audit.isError ? (
        <ErrorBox error={audit.error} retry={() => void audit.refetch()} />
      ) : audit.data.entries.length === 0 ? (
        <p className="muted">No entries{kind || action ? " match these filters" : ""}.</p>
      ) : (
        <div className="table-wrap">
          <table className="grid" aria-label="Audit log">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {audit.data.entries.map((e) => (
                <tr key={e.id}>
                  <td>{formatTime(e.at, zone)}</td>
                  <td>
                    {e.actor} <span className="muted">({e.actor_scope})</span>
                  </td>
                  <td className="mono">{e.action}</td>
                  <td>{e.target_name ?? e.target_id ?? ""}</td>
                  <td className="small">{detail(e.detail)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="row">
        <button
          type="button"
          className="btn small"
          disabled={cursors.length === 0}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          ← Newer
        </button>
        <button
          type="button"
          className="btn small"
          disabled={!audit.data?.next_cursor || audit.isPlaceholderData}
          onClick={() => {
            const next = audit.data?.next_cursor;
            if (next) setCursors((c) => [...c, next]);
          }}
        >
          Older →
        </button>
      </div>
    </section>
  );
}
