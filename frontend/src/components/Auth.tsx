// Tokens: the UI asks for one when an action needs it (an admin action, or any read when reads
// are not public) and keeps it for the browser session.
import { useCallback, useEffect, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import { AuthContext, retryWithToken, type AuthApi } from "../api/auth";
import { tokenStore } from "../api/client";

interface Ask {
  reason: string;
  /** Everyone waiting for this dialog: several queries may need a token at once. */
  waiters: ((ok: boolean) => void)[];
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const token = useSyncExternalStore(tokenStore.subscribe, tokenStore.get);
  const [asking, setAsking] = useState<Ask | null>(null);
  const open = useRef<Ask | null>(null);

  const ask = useCallback(
    (reason: string) =>
      new Promise<boolean>((resolve) => {
        if (open.current) {
          open.current.waiters.push(resolve);
          return;
        }
        open.current = { reason, waiters: [resolve] };
        setAsking(open.current);
      }),
    [],
  );

  const withToken = useCallback(
    <T,>(reason: string, action: () => Promise<T>): Promise<T> => retryWithToken(ask, reason, action),
    [ask],
  );

  const api: AuthApi = { token, ask, withToken, signOut: () => tokenStore.set(null) };
  return (
    <AuthContext.Provider value={api}>
      {children}
      {asking && (
        <TokenDialog
          reason={asking.reason}
          onClose={(value) => {
            if (value) tokenStore.set(value);
            const waiters = asking.waiters;
            open.current = null;
            setAsking(null);
            waiters.forEach((resolve) => resolve(!!value));
          }}
        />
      )}
    </AuthContext.Provider>
  );
}

function TokenDialog({ reason, onClose }: { reason: string; onClose: (token: string | null) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState("");
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="token-title" onCancel={() => onClose(null)}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          onClose(value.trim() || null);
        }}
      >
        <h2 id="token-title">API token needed</h2>
        <p className="muted">{reason}</p>
        <label className="field">
          Token
          <input
            type="password"
            name="token"
            autoComplete="off"
            autoFocus
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder="cicd_…"
          />
        </label>
        <p className="muted">
          Kept in this browser tab only (session storage). <code>make run</code> writes its admin token to{" "}
          <code>.local/admin-token</code>; create another with <code>make -s token NAME=me SCOPE=admin</code> from the
          repository (or <code>cicd-monitor token create --name me --scope admin</code> with <code>DATABASE_URL</code>{" "}
          set).
        </p>
        <div className="row">
          <span className="spacer" />
          <button type="button" className="btn" onClick={() => onClose(null)}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={!value.trim()}>
            Use token
          </button>
        </div>
      </form>
    </dialog>
  );
}
