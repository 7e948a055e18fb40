// The retention policy: how many days raw runs are kept (hourly rollups are kept longer).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, call } from "../../api/client";
import { keys } from "../../api/hooks";
import { useAuth } from "../../components/Auth";
import { ErrorBox, Skeleton } from "../../components/common";

export function Retention() {
  const client = useQueryClient();
  const { withToken } = useAuth();
  const settings = useQuery({ queryKey: keys.settings, queryFn: () => call(api.GET("/api/settings")) });
  const [days, setDays] = useState("");
  useEffect(() => {
    if (settings.data) setDays(String(settings.data.retention_days));
  }, [settings.data]);
  const save = useMutation({
    mutationFn: () =>
      withToken("Changing the retention policy needs an admin token.", () =>
        call(api.PUT("/api/settings", { body: { ...settings.data!, retention_days: Number(days) } })),
      ),
    onSuccess: (data) => client.setQueryData(keys.settings, data),
  });
  return (
    <section className="card" aria-labelledby="retention-title">
      <h2 id="retention-title">Retention</h2>
      {settings.isPending ? (
        <Skeleton lines={1} />
      ) : settings.isError ? (
        <ErrorBox error={settings.error} retry={() => void settings.refetch()} />
      ) : (
        <form className="row" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
          <label className="field">
            Keep raw runs (days)
            <input type="number" min={1} max={3650} step={1} required value={days} onChange={(e) => setDays(e.target.value)} />
          </label>
          <button type="submit" className="btn primary" disabled={save.isPending || days === String(settings.data.retention_days)}>Save</button>
          {save.isSuccess && <span role="status" className="muted">Saved.</span>}
          <p className="muted">
            How long raw runs (with their payloads and jobs) are kept. The charts read hourly rollups, which are kept
            separately.
          </p>
        </form>
      )}
      {save.isError && <ErrorBox error={save.error} />}
    </section>
  );
}
