// Delivery settings: which environments count as production for the DORA keys (names or globs), and
// what makes a production deployment a failed change. Saved with the other settings, which go back
// as they are.
import { useState } from "react";
import { useSaveSettings, useSettings } from "../../api/settings";
import { ErrorBox, Skeleton } from "../../components/common";
import {
  CAUSES,
  environmentsProblem,
  environmentsText,
  parseEnvironments,
  type ChangeFailureCause,
} from "../../lib/delivery";

interface Form {
  environments: string;
  causes: ChangeFailureCause[];
}

/** The backend's defaults (a server older than the DORA keys leaves the settings out). */
const DEFAULT_ENVIRONMENTS = ["production", "prod"];
const ALL_CAUSES = CAUSES.map(([c]) => c);

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function Delivery() {
  const settings = useSettings();
  const stored = settings.data && {
    environments: settings.data.production_environments ?? DEFAULT_ENVIRONMENTS,
    causes: settings.data.change_failure_causes ?? ALL_CAUSES,
  };
  const saved: Form | undefined = stored && {
    environments: environmentsText(stored.environments),
    causes: stored.causes,
  };
  const [form, setForm] = useState<Form>(saved ?? { environments: "", causes: ALL_CAUSES });
  // The form starts over from the stored settings whenever they change (loaded, saved, refetched).
  const [shown, setShown] = useState(settings.data);
  if (shown !== settings.data) {
    setShown(settings.data);
    if (saved) setForm(saved);
  }
  const [tried, setTried] = useState(false);
  const save = useSaveSettings();
  const environments = parseEnvironments(form.environments);
  // In the API's order, whatever order they were ticked in.
  const causes = ALL_CAUSES.filter((c) => form.causes.includes(c));
  const envProblem = environmentsProblem(environments);
  const causeProblem = causes.length === 0 ? "Choose at least one cause of a failed change." : null;
  const unchanged =
    !!stored &&
    sameList(environments, stored.environments) &&
    sameList(
      causes,
      ALL_CAUSES.filter((c) => stored.causes.includes(c)),
    );
  return (
    <section className="card" aria-labelledby="delivery-settings-title">
      <h2 id="delivery-settings-title">Delivery</h2>
      {settings.isPending ? (
        <Skeleton lines={2} />
      ) : settings.isError ? (
        <ErrorBox error={settings.error} retry={() => void settings.refetch()} />
      ) : (
        <form
          className="col delivery-settings"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            setTried(true);
            if (envProblem || causeProblem) return;
            // A replacement: the other settings (retention, prices, auto-quarantine) go back as they are.
            save.mutate({ ...settings.data, production_environments: environments, change_failure_causes: causes });
          }}
        >
          <div className="form-grid">
            <label className="field">
              Production environments (one per line)
              <textarea
                rows={4}
                spellCheck={false}
                value={form.environments}
                placeholder={"production\nprod-*"}
                aria-invalid={(tried && !!envProblem) || undefined}
                aria-describedby="production-environments-hint"
                onChange={(e) => setForm({ ...form, environments: e.target.value })}
              />
              <span id="production-environments-hint" className="small">
                Names or globs (<code>*</code> any characters, <code>?</code> one), compared without regard to case.
              </span>
            </label>
            <fieldset className="field radios">
              <legend>A production deployment is a failed change when</legend>
              {CAUSES.map(([cause, label, hint]) => (
                <label key={cause} className="row" title={hint}>
                  <input
                    type="checkbox"
                    name="change-failure-cause"
                    value={cause}
                    checked={form.causes.includes(cause)}
                    onChange={(e) =>
                      setForm({
                        ...form,
                        causes: e.target.checked ? [...form.causes, cause] : form.causes.filter((c) => c !== cause),
                      })
                    }
                  />{" "}
                  {label} <span className="muted small">— {hint}</span>
                </label>
              ))}
            </fieldset>
          </div>
          <div className="row">
            <button type="submit" className="btn primary" disabled={save.isPending || unchanged}>
              Save delivery settings
            </button>
            {tried &&
              [envProblem, causeProblem]
                .filter((p): p is string => !!p)
                .map((p) => (
                  <span key={p} className="field-error" role="alert">
                    {p}
                  </span>
                ))}
            {save.isSuccess && unchanged && (
              <span role="status" className="muted">
                Saved.
              </span>
            )}
          </div>
          <p className="muted">
            The DORA keys count deployments to these environments, and incidents in them. The change failure rate is the
            share of those deployments that failed for the causes ticked; time to restore runs from such a failure to
            its restoration. A change applies to past deployments too: the keys are computed when they are read.
          </p>
        </form>
      )}
      {save.isError && <ErrorBox error={save.error} />}
    </section>
  );
}
