// API tokens: create (shown once, with a copy button) and revoke.
import { useRef, useState } from "react";
import type { CreatedToken, Scope } from "../../api/client";
import { useCreateToken, useRevokeToken, useTokens } from "../../api/tokens";
import { CopyButton, ErrorBox, Skeleton } from "../../components/common";
import { formatTime } from "../../lib/format";
import { useZone } from "../../lib/prefs";

const SCOPES: { scope: Scope; hint: string }[] = [
  { scope: "ingest", hint: "CI systems posting runs" },
  { scope: "read", hint: "dashboards and scripts reading figures" },
  { scope: "admin", hint: "everything, including settings" },
  { scope: "operator", hint: "the Kubernetes operator" },
];

export function Tokens() {
  const zone = useZone();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("ingest");
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const secretRef = useRef<HTMLElement>(null);
  const tokens = useTokens();
  const create = useCreateToken({
    onSuccess: (t) => {
      setCreated(t);
      setName("");
    },
  });
  const revoke = useRevokeToken();

  return (
    <section className="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate({ name, scope });
        }}
      >
        <label className="field">
          Name
          <input
            type="text"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="github-actions"
            maxLength={100}
            required
          />
        </label>
        <label className="field">
          Scope
          <select value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
            {SCOPES.map((s) => (
              <option key={s.scope} value={s.scope}>
                {s.scope} — {s.hint}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn primary" disabled={!name.trim() || create.isPending}>
          Create token
        </button>
      </form>
      {create.isError && <ErrorBox error={create.error} />}
      {created && (
        <div className="card" role="status" aria-live="polite">
          <p>
            Token <strong>{created.name}</strong> ({created.scope}) — copy it now, it is shown only once:
          </p>
          <div className="secret">
            <code data-testid="new-token" ref={secretRef}>
              {created.token}
            </code>
            <CopyButton text={created.token} target={secretRef} />
            <button type="button" className="btn" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      {tokens.isPending ? (
        <Skeleton />
      ) : tokens.isError ? (
        <ErrorBox error={tokens.error} retry={() => void tokens.refetch()} />
      ) : (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Scope</th>
                <th scope="col">Prefix</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>
                    <span className="pill">{t.scope}</span>
                  </td>
                  <td className="mono">{t.prefix}…</td>
                  <td>{formatTime(t.created_at, zone)}</td>
                  <td>{t.last_used_at ? formatTime(t.last_used_at, zone) : "never"}</td>
                  <td>
                    {t.revoked_at ? (
                      <span className="muted">revoked {formatTime(t.revoked_at, zone)}</span>
                    ) : (
                      <button
                        type="button"
                        className="btn small danger"
                        disabled={revoke.isPending}
                        onClick={() =>
                          window.confirm(`Revoke token "${t.name}"? Clients using it stop working.`) &&
                          revoke.mutate(t.id)
                        }
                      >
                        Revoke
                      </button>
                    )}
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
