// The retention policy: how many days raw runs are kept, how long the hourly rollups behind the
// charts outlive them, and how many days test results are kept (on their own: they are the bulkiest).
import { useState } from "react";
import { useSaveSettings, useSettings } from "../../api/settings";
import { ErrorBox, Skeleton } from "../../components/common";

interface Form {
  runs: string;
  rollups: string;
  tests: string;
}

/** The backend's default `test_retention_days` (a server older than test results leaves it out). */
const DEFAULT_TEST_DAYS = 30;

export function Retention() {
  const settings = useSettings();
  const saved: Form | undefined = settings.data
    ? {
        runs: String(settings.data.retention_days),
        rollups: String(settings.data.rollup_retention_days),
        tests: String(settings.data.test_retention_days ?? DEFAULT_TEST_DAYS),
      }
    : undefined;
  const [form, setForm] = useState<Form>(saved ?? { runs: "", rollups: "", tests: "" });
  // The form starts over from the stored settings whenever they change (loaded, saved, refetched).
  const [shown, setShown] = useState(settings.data);
  if (shown !== settings.data) {
    setShown(settings.data);
    if (saved) setForm(saved);
  }
  const save = useSaveSettings();
  const unchanged =
    saved !== undefined && form.runs === saved.runs && form.rollups === saved.rollups && form.tests === saved.tests;
  return (
    <section className="card" aria-labelledby="retention-title">
      <h2 id="retention-title">Retention</h2>
      {settings.isPending ? (
        <Skeleton lines={1} />
      ) : settings.isError ? (
        <ErrorBox error={settings.error} retry={() => void settings.refetch()} />
      ) : (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            // A replacement: the other settings (the price table, the auto-quarantine) go back as they are.
            save.mutate({
              ...settings.data,
              retention_days: Number(form.runs),
              rollup_retention_days: Number(form.rollups),
              test_retention_days: Number(form.tests),
            });
          }}
        >
          <DaysField label="Keep raw runs (days)" value={form.runs} onChange={(runs) => setForm({ ...form, runs })} />
          <DaysField
            label="Keep chart rollups (days)"
            min={Math.max(1, Number(form.runs) || 1)}
            value={form.rollups}
            onChange={(rollups) => setForm({ ...form, rollups })}
          />
          <DaysField
            label="Keep test results (days)"
            value={form.tests}
            onChange={(tests) => setForm({ ...form, tests })}
          />
          <button type="submit" className="btn primary" disabled={save.isPending || unchanged}>
            Save
          </button>
          {save.isSuccess && (
            <span role="status" className="muted">
              Saved.
            </span>
          )}
          <p className="muted">
            Raw runs (with their payloads and jobs) older than the first figure are deleted, a batch at a time, by one
            replica. The charts and success rates read hourly rollups, kept until the second figure (at least as long as
            runs), so long-range trends stay visible after their runs are gone. Test results (their reports, messages
            and output, the daily test figures and flakes) are kept for the third figure.
          </p>
        </form>
      )}
      {save.isError && <ErrorBox error={save.error} />}
    </section>
  );
}

/** A number of days, 1 (or `min`) to ten years. */
function DaysField({
  label,
  value,
  min = 1,
  onChange,
}: {
  label: string;
  value: string;
  min?: number;
  onChange: (value: string) => void;
}) {
  return (
    <label className="field">
      {label}
      <input
        type="number"
        min={min}
        max={3650}
        step={1}
        required
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}
