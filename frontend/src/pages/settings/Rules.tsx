// Alert rules: list, create, edit, enable/disable. Rules declared as Kubernetes resources are
// shown read-only with their namespace/name (change them with kubectl). The form checks what the
// backend checks before saving, and shows the backend's field errors the same way.
import { useEffect, useState } from "react";
import { useIntegrations } from "../../api/integrations";
import { useDeleteRule, useRules, useSaveRule, useToggleRule, type RuleSave } from "../../api/rules";
import { ErrorBox, Skeleton } from "../../components/common";
import { formatAgo } from "../../lib/format";
import { useNow } from "../../lib/useNow";
import {
  CONDITION_TYPES,
  defaultCondition,
  describeCondition,
  describeWatched,
  isDeliveryCondition,
  isSpan,
  matchScope,
  newRuleSpec,
  ruleProblems,
  scopedMatch,
  splitList,
  type Condition,
  type ConditionType,
  type RuleSpec,
  type RuleTest,
} from "../../lib/rules";

/** The rule being edited (`id` null for a new one). */
type Draft = RuleSave;

/**
 * The rule a link points at (`/settings#rule-NAME`, as an incident links its rule): scrolled into
 * view once the rules are on screen, and marked.
 */
function useLinkedRule(loaded: boolean): string | null {
  const hash = window.location.hash;
  const name = hash.startsWith("#rule-") ? decodeURIComponent(hash.slice("#rule-".length)) : null;
  useEffect(() => {
    if (loaded && name) document.getElementById(`rule-${name}`)?.scrollIntoView({ block: "center" });
  }, [loaded, name]);
  return name;
}

export function Rules() {
  const now = new Date(useNow());
  const [draft, setDraft] = useState<Draft | null>(null);
  const rules = useRules();
  const save = useSaveRule({ onSuccess: () => setDraft(null) });
  const toggle = useToggleRule();
  const remove = useDeleteRule();
  const linked = useLinkedRule(rules.isSuccess);

  return (
    <section className="card" aria-labelledby="rules-title">
      <div className="chart-head">
        <h2 id="rules-title">Alert rules</h2>
        <span className="spacer" />
        <button
          type="button"
          className="btn"
          onClick={() => {
            save.reset();
            setDraft({ id: null, name: "", spec: newRuleSpec() });
          }}
        >
          New rule
        </button>
      </div>
      {draft && (
        <RuleForm
          draft={draft}
          onChange={setDraft}
          onCancel={() => setDraft(null)}
          onSave={() => save.mutate(draft)}
          saving={save.isPending}
          error={save.error}
        />
      )}
      {(toggle.isError || remove.isError) && <ErrorBox error={toggle.error ?? remove.error} />}
      {rules.isPending ? (
        <Skeleton />
      ) : rules.isError ? (
        <ErrorBox error={rules.error} retry={() => void rules.refetch()} />
      ) : rules.data.length === 0 ? (
        <p className="muted">
          No alert rules yet. Create one here, or declare <code>AlertRule</code> resources in Kubernetes.
        </p>
      ) : (
        <div className="table-wrap">
          <table className="grid">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Watches</th>
                <th scope="col">Fires on</th>
                <th scope="col">Severity</th>
                <th scope="col">Notifies</th>
                <th scope="col">State</th>
                <th scope="col">Managed by</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rules.data.map((r) => {
                const k8s = r.source === "kubernetes";
                return (
                  <tr
                    key={r.id}
                    id={`rule-${r.name}`}
                    data-rule={r.name}
                    aria-current={linked === r.name ? "true" : undefined}
                  >
                    <td>{r.name}</td>
                    <td>{describeWatched(r.spec)}</td>
                    <td>{describeCondition(r.spec.condition)}</td>
                    <td>
                      <span className={`sev ${r.spec.severity}`}>{r.spec.severity}</span>
                    </td>
                    <td>
                      {r.spec.notify.integrations.map((i) => i.name).join(", ") || (
                        <span className="muted">nobody</span>
                      )}
                    </td>
                    <td>
                      {r.enabled ? (
                        r.firing > 0 ? (
                          <span className="status failure">{r.firing} firing</span>
                        ) : (
                          <span className="status success">ok</span>
                        )
                      ) : (
                        <span className="status cancelled">disabled</span>
                      )}
                      {r.last_triggered && <div className="muted">last fired {formatAgo(r.last_triggered, now)}</div>}
                    </td>
                    <td>
                      {k8s && r.kubernetes ? (
                        <span className="pill" title={`uid ${r.kubernetes.uid}`}>
                          Kubernetes {r.kubernetes.namespace}/{r.kubernetes.name}
                        </span>
                      ) : (
                        "API"
                      )}
                    </td>
                    <td>
                      {k8s ? (
                        <span className="muted">read-only</span>
                      ) : (
                        <div className="row">
                          <button
                            type="button"
                            className="btn small"
                            disabled={toggle.isPending}
                            onClick={() => toggle.mutate(r)}
                          >
                            {r.enabled ? "Disable" : "Enable"}
                          </button>
                          <button
                            type="button"
                            className="btn small"
                            onClick={() => {
                              save.reset();
                              setDraft({ id: r.id, name: r.name, spec: r.spec });
                            }}
                          >
                            Edit
                          </button>
                          <button
                            type="button"
                            className="btn small danger"
                            onClick={() => window.confirm(`Delete rule "${r.name}"?`) && remove.mutate(r.id)}
                          >
                            Delete
                          </button>
                        </div>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function RuleForm({
  draft,
  onChange,
  onCancel,
  onSave,
  saving,
  error,
}: {
  draft: Draft;
  onChange: (d: Draft) => void;
  onCancel: () => void;
  onSave: () => void;
  saving: boolean;
  error: unknown;
}) {
  const spec = draft.spec;
  const integrations = useIntegrations();
  // The backend's checks, made here first: shown once a save was tried, and until they pass.
  const [tried, setTried] = useState(false);
  const problems = ruleProblems(draft.name, spec);
  const shown = tried ? problems : [];
  /** Whether a field (`condition.window`, or `name`) has a problem shown. */
  const invalid = (field: string) =>
    shown.some((p) => p.field === field || p.field === `spec.${field}` || p.field.startsWith(`spec.${field}.`)) ||
    undefined;
  const [lists, setLists] = useState({
    workflows: spec.match.workflows?.join(", ") ?? "",
    branches: spec.match.branches?.join(", ") ?? "",
    notify: spec.notify.integrations.map((i) => i.name).join(", "),
    labels: "labels" in spec.condition ? spec.condition.labels.join(", ") : "",
  });
  const setSpec = (patch: Partial<RuleSpec>) => onChange({ ...draft, spec: { ...spec, ...patch } });
  const setCondition = (patch: Partial<Condition>) =>
    setSpec({ condition: { ...spec.condition, ...patch } as Condition });
  const c = spec.condition as Record<string, unknown> & Condition;
  /** A condition field as its input's text (spans are strings: "15m"). */
  const textOf = (key: string) => {
    const v = c[key];
    return typeof v === "string" || typeof v === "number" ? String(v) : "";
  };
  const spanField = (key: string, label: string) => (
    <label className="field">
      {label}
      <input
        type="text"
        value={textOf(key)}
        pattern="([0-9]+(s|m|h|d))+"
        title="e.g. 30s, 15m, 1h30m, 7d"
        aria-invalid={!isSpan(textOf(key)) || invalid(`condition.${key}`)}
        onChange={(e) => setCondition({ [key]: e.target.value })}
      />
    </label>
  );
  const numberField = (key: string, label: string, min: number, max?: number) => (
    <label className="field">
      {label}
      <input
        type="number"
        min={min}
        max={max}
        step="any"
        aria-invalid={invalid(`condition.${key}`)}
        value={Number(c[key] ?? 0)}
        onChange={(e) => setCondition({ [key]: Number(e.target.value) })}
      />
    </label>
  );
  const statField = (
    <label className="field">
      Statistic
      <select
        value={typeof c.stat === "string" ? c.stat : "p95"}
        onChange={(e) => setCondition({ stat: e.target.value } as Partial<Condition>)}
      >
        <option value="p95">p95</option>
        <option value="avg">average</option>
      </select>
    </label>
  );
  // The job and runner conditions compare a percentile of the jobs' times (the jobs view's p50, p95).
  const percentileField = (
    <label className="field">
      Percentile
      <select
        value={typeof c.stat === "string" ? c.stat : "p95"}
        onChange={(e) => setCondition({ stat: e.target.value } as Partial<Condition>)}
      >
        <option value="p95">p95</option>
        <option value="p50">p50 (median)</option>
      </select>
    </label>
  );
  const labelsField = (
    <label className="field">
      Runner labels (comma-separated)
      <input
        type="text"
        required
        value={lists.labels}
        placeholder="self-hosted, gpu"
        aria-invalid={invalid("condition.labels")}
        onChange={(e) => {
          setLists({ ...lists, labels: e.target.value });
          setCondition({ labels: splitList(e.target.value) });
        }}
      />
    </label>
  );
  const job = "job" in spec.condition ? spec.condition.job : null;
  const jobFields = job && (
    <>
      {(
        [
          ["repo", "Job's repository", "acme/api"],
          ["workflow", "Job's workflow", "ci"],
          ["name", "Job name", "test"],
        ] as const
      ).map(([key, label, placeholder]) => (
        <label className="field" key={key}>
          {label}
          <input
            type="text"
            required
            value={job[key]}
            placeholder={placeholder}
            aria-invalid={invalid(`condition.job.${key}`)}
            onChange={(e) => setCondition({ job: { ...job, [key]: e.target.value } })}
          />
        </label>
      ))}
    </>
  );
  // The production deployments' conditions watch the services a glob matches (every one when blank).
  const delivery = isDeliveryCondition(spec.condition) ? spec.condition : null;
  const serviceField = delivery && (
    <label className="field">
      Services (glob; blank for every service)
      <input
        type="text"
        maxLength={255}
        spellCheck={false}
        value={delivery.service ?? ""}
        placeholder="all, or payments-*"
        aria-invalid={invalid("condition.service")}
        onChange={(e) => setCondition({ service: e.target.value.trim() ? e.target.value : undefined })}
      />
    </label>
  );
  const test = c.type === "TestFailureRate" ? c : null;
  /** Sets the one test a `TestFailureRate` watches: its optional class and suite left out when blank. */
  const setTest = (t: RuleTest) =>
    setCondition({
      test: {
        repo: t.repo,
        name: t.name,
        ...(t.classname?.trim() ? { classname: t.classname } : {}),
        ...(t.suite?.trim() ? { suite: t.suite } : {}),
      },
    });
  const testFields = test && (
    <>
      <fieldset className="field radios">
        <legend>Watch</legend>
        <label className="row">
          <input
            type="radio"
            name="test-target"
            checked={!test.test}
            onChange={() =>
              setSpec({
                condition: {
                  type: test.type,
                  testMatch: "*",
                  threshold: test.threshold,
                  window: test.window,
                  minRuns: test.minRuns,
                },
              })
            }
          />{" "}
          Tests matching a glob
        </label>
        <label className="row">
          <input
            type="radio"
            name="test-target"
            checked={!!test.test}
            onChange={() => {
              // One test watches that test alone: the rule's selector must be empty.
              setLists({ ...lists, workflows: "", branches: "" });
              setSpec({
                condition: {
                  type: test.type,
                  // A repository named exactly (not a glob) is the test's.
                  test: { repo: /^[^*?[{]+$/.test(spec.match.repo ?? "") ? spec.match.repo! : "", name: "" },
                  threshold: test.threshold,
                  window: test.window,
                  minRuns: test.minRuns,
                },
                match: scopedMatch(spec.match, "none"),
              });
            }}
          />{" "}
          One test
        </label>
      </fieldset>
      {test.test ? (
        (
          [
            ["repo", "Test's repository", "acme/api", true],
            ["name", "Test name", "test_login", true],
            ["classname", "Test class (optional)", "tests.test_api", false],
            ["suite", "Test suite (optional)", "pytest", false],
          ] as const
        ).map(([key, label, placeholder, required]) => (
          <label className="field" key={key}>
            {label}
            <input
              type="text"
              required={required}
              value={test.test?.[key] ?? ""}
              placeholder={placeholder}
              aria-invalid={invalid(`condition.test.${key}`)}
              onChange={(e) => test.test && setTest({ ...test.test, [key]: e.target.value })}
            />
          </label>
        ))
      ) : (
        <label className="field">
          Tests (glob on class::name)
          <input
            type="text"
            required
            maxLength={1000}
            value={test.testMatch ?? ""}
            placeholder="tests.test_api::*"
            aria-invalid={invalid("condition.testMatch")}
            onChange={(e) => setCondition({ testMatch: e.target.value })}
          />
        </label>
      )}
    </>
  );
  const scope = matchScope(spec.condition);
  const known = integrations.data?.map((i) => i.name) ?? [];

  return (
    <form
      className="card"
      aria-label={draft.id == null ? "New alert rule" : `Edit ${draft.name}`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (problems.length === 0) onSave();
      }}
    >
      <div className="form-grid">
        <label className="field">
          Name
          <input
            type="text"
            required
            aria-invalid={invalid("name")}
            value={draft.name}
            onChange={(e) => onChange({ ...draft, name: e.target.value })}
            placeholder="main-is-red"
          />
        </label>
        {scope !== "none" && (
          <label className="field">
            Repository (glob)
            <input
              type="text"
              value={spec.match.repo ?? ""}
              placeholder="all, or acme/payments-*"
              aria-invalid={invalid("match.repo")}
              onChange={(e) => setSpec({ match: { ...spec.match, repo: e.target.value.trim() || null } })}
            />
          </label>
        )}
        {scope === "all" && (
          <>
            <label className="field">
              Workflows (comma-separated)
              <input
                type="text"
                value={lists.workflows}
                placeholder="all"
                onChange={(e) => {
                  setLists({ ...lists, workflows: e.target.value });
                  setSpec({ match: { ...spec.match, workflows: splitList(e.target.value) } });
                }}
              />
            </label>
            <label className="field">
              Branches (comma-separated globs)
              <input
                type="text"
                value={lists.branches}
                placeholder="all, or main, release/*"
                onChange={(e) => {
                  setLists({ ...lists, branches: e.target.value });
                  setSpec({ match: { ...spec.match, branches: splitList(e.target.value) } });
                }}
              />
            </label>
          </>
        )}
        <label className="field">
          Condition
          <select
            value={spec.condition.type}
            onChange={(e) => {
              const condition = defaultCondition(e.target.value as ConditionType);
              // A job, runner or test condition watches what it names, or only a repository's tests:
              // what of the selector no longer applies is cleared (the backend refuses it).
              const scope = matchScope(condition);
              setLists({
                ...lists,
                labels: "",
                ...(scope === "all" ? {} : { workflows: "", branches: "" }),
              });
              setSpec({ condition, match: scopedMatch(spec.match, scope) });
            }}
          >
            {CONDITION_TYPES.map((t) => (
              <option key={t.type} value={t.type}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        {c.type === "RunFailed" && (
          <label className="row">
            <input
              type="checkbox"
              checked={!!c.onlyFirst}
              onChange={(e) => setCondition({ onlyFirst: e.target.checked })}
            />{" "}
            Only the first failure after a success
          </label>
        )}
        {c.type === "ConsecutiveFailures" && numberField("threshold", "Failures in a row", 1)}
        {c.type === "FailureRate" && (
          <>
            {numberField("threshold", "Failure rate (%)", 0.1, 100)}
            {spanField("window", "Window")}
            {numberField("minRuns", "Minimum runs", 0)}
          </>
        )}
        {(c.type === "Duration" || c.type === "QueueTime") && (
          <>
            {statField}
            {spanField("threshold", "Above")}
            {spanField("window", "Window")}
          </>
        )}
        {c.type === "DurationRegression" && (
          <>
            {numberField("percent", "Slower by (%)", 1)}
            {spanField("window", "Window")}
            {spanField("baselineWindow", "Baseline window")}
          </>
        )}
        {c.type === "NoSuccessWithin" && spanField("window", "No success for")}
        {c.type === "JobQueueTime" && (
          <>
            {labelsField}
            {percentileField}
            {spanField("threshold", "Queue time above")}
            {spanField("window", "Window")}
          </>
        )}
        {c.type === "QueuedJobs" && (
          <>
            {labelsField}
            {numberField("threshold", "Jobs queued (at least)", 1)}
            {spanField("for", "For at least")}
          </>
        )}
        {c.type === "JobFailureRate" && (
          <>
            {jobFields}
            {numberField("threshold", "Failure rate (%)", 0.1, 100)}
            {spanField("window", "Window")}
            {numberField("minRuns", "Minimum runs", 0)}
          </>
        )}
        {c.type === "JobDuration" && (
          <>
            {jobFields}
            {percentileField}
            {spanField("threshold", "Duration above")}
            {spanField("window", "Window")}
          </>
        )}
        {c.type === "FlakyTest" && spanField("window", "Flaked within")}
        {c.type === "TestFailureRate" && (
          <>
            {testFields}
            {numberField("threshold", "Failure rate (%)", 0.1, 100)}
            {spanField("window", "Window (whole days)")}
            {numberField("minRuns", "Minimum runs", 0)}
          </>
        )}
        {c.type === "DeploymentFailed" && serviceField}
        {c.type === "ChangeFailureRate" && (
          <>
            {serviceField}
            {numberField("threshold", "Change failure rate (%)", 0.1, 100)}
            {spanField("window", "Window")}
            {numberField("minDeployments", "Minimum deployments", 0)}
          </>
        )}
        {c.type === "LeadTime" && (
          <>
            {serviceField}
            {percentileField}
            {spanField("threshold", "Lead time above")}
            {spanField("window", "Window")}
          </>
        )}
        <label className="field">
          Severity
          <select value={spec.severity} onChange={(e) => setSpec({ severity: e.target.value as RuleSpec["severity"] })}>
            <option value="info">info</option>
            <option value="warning">warning</option>
            <option value="critical">critical</option>
          </select>
        </label>
        <label className="field">
          Notify (integration names, comma-separated)
          <input
            type="text"
            list="integration-names"
            value={lists.notify}
            placeholder={known.length ? known.join(", ") : "slack-payments"}
            onChange={(e) => {
              setLists({ ...lists, notify: e.target.value });
              setSpec({
                notify: { ...spec.notify, integrations: splitList(e.target.value).map((name) => ({ name })) },
              });
            }}
          />
          <datalist id="integration-names">
            {known.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </label>
        <label className="field">
          Summary (in the message)
          <input
            type="text"
            value={spec.annotations.summary ?? ""}
            onChange={(e) => setSpec({ annotations: { ...spec.annotations, summary: e.target.value || null } })}
          />
        </label>
        <label className="field">
          Runbook URL
          <input
            type="url"
            value={spec.annotations.runbookUrl ?? ""}
            onChange={(e) => setSpec({ annotations: { ...spec.annotations, runbookUrl: e.target.value || null } })}
          />
        </label>
        <label className="field">
          Group wait
          <input
            type="text"
            value={spec.notify.groupWait}
            pattern="([0-9]+(s|m|h|d))+"
            onChange={(e) => setSpec({ notify: { ...spec.notify, groupWait: e.target.value } })}
          />
        </label>
        <label className="field">
          Repeat every
          <input
            type="text"
            value={spec.notify.repeatInterval}
            pattern="([0-9]+(s|m|h|d))+"
            onChange={(e) => setSpec({ notify: { ...spec.notify, repeatInterval: e.target.value } })}
          />
        </label>
      </div>
      <p className="muted">
        Fires on: {describeCondition(spec.condition)} · watches {describeWatched(spec)}
      </p>
      <div className="row">
        <label className="row">
          <input
            type="checkbox"
            checked={spec.notify.sendResolved}
            onChange={(e) => setSpec({ notify: { ...spec.notify, sendResolved: e.target.checked } })}
          />{" "}
          Send "resolved"
        </label>
        <label className="row">
          <input type="checkbox" checked={!spec.suspend} onChange={(e) => setSpec({ suspend: !e.target.checked })} />{" "}
          Enabled
        </label>
        <span className="spacer" />
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="btn primary" disabled={saving}>
          Save rule
        </button>
      </div>
      {shown.length > 0 ? (
        <ErrorBox error={{ message: "The rule has invalid fields.", details: shown }} />
      ) : (
        error != null && <ErrorBox error={error} />
      )}
    </form>
  );
}
