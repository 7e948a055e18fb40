// The quarantine of the tests view: the tests quarantined in the page's repository (or in every
// repository), each released with one click; a search for a test to add, with a reason; and the
// auto-quarantine rule ("flaky N times in D days", a setting). Every change is an admin action
// (the token dialog opens when the tab's token cannot make it) and goes in the audit log.
import { useRef, useState } from "react";
import type { Schemas } from "../api/client";
import { useSaveSettings, useSettings } from "../api/settings";
import { FOUND_LIMIT, useFindTests, useQuarantine, useQuarantineAction } from "../api/tests";
import { formatCount, formatTime } from "../lib/format";
import { useZone } from "../lib/prefs";
import {
  AUTO_QUARANTINE_DAYS,
  AUTO_QUARANTINE_FLAKES,
  autoQuarantineForm,
  autoQuarantineOf,
  autoQuarantineProblems,
  describeAutoQuarantine,
  quarantineTextUrl,
  testContext,
  type AutoQuarantineForm,
} from "../lib/tests";
import type { TestRef, View } from "../lib/url";
import { CopyButton, ErrorBox, Skeleton } from "./common";

export function QuarantineList({ view, onOpenTest }: { view: View; onOpenTest: (test: TestRef) => void }) {
  const zone = useZone();
  const repo = view.repo;
  const list = useQuarantine(repo);
  const act = useQuarantineAction();
  const url = quarantineTextUrl(window.location.origin, repo);
  const code = useRef<HTMLElement>(null);
  const where = repo ? `in ${repo}` : "in every repository";
  return (
    <section className="card quarantine-list" aria-labelledby="quarantine-title">
      <div className="chart-head">
        <h2 id="quarantine-title">Quarantine</h2>
        <span className="muted">{where}</span>
      </div>
      <AutoQuarantine />
      {list.isPending ? (
        <Skeleton lines={2} />
      ) : list.isError ? (
        <ErrorBox error={list.error} retry={() => void list.refetch()} />
      ) : list.data.length === 0 ? (
        <p className="muted">No test is quarantined {where}.</p>
      ) : (
        <div className="table-wrap">
          <table className="grid tests-table" aria-labelledby="quarantine-title">
            <thead>
              <tr>
                <th scope="col">Test</th>
                <th scope="col">Reason</th>
                <th scope="col">Quarantined</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((q) => (
                <tr key={`${q.repo}|${q.test_id}`} data-test-id={q.test_id}>
                  <td>
                    <div className="test-cell">
                      <button
                        type="button"
                        className="link truncate"
                        title={`The history of ${q.name}`}
                        onClick={() => onOpenTest({ id: q.test_id, repo: q.repo })}
                      >
                        {q.name}
                      </button>
                      <span className="muted small truncate">
                        {testContext(q)} · {q.repo}
                      </span>
                    </div>
                  </td>
                  <td>{q.reason ?? <span className="muted">none given</span>}</td>
                  <td>
                    <span title={formatTime(q.created_at, zone, "full")}>{formatTime(q.created_at, zone)}</span>
                    <br />
                    <span className="muted small">by {q.created_by}</span>
                  </td>
                  <td>
                    <button
                      type="button"
                      className="btn small"
                      disabled={act.isPending}
                      aria-label={`Release ${q.name} in ${q.repo}`}
                      onClick={() => act.mutate({ action: "release", repo: q.repo, test_id: q.test_id })}
                    >
                      Release
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {act.isError && <ErrorBox error={act.error} />}
      <AddToQuarantine view={view} />
      <p className="muted small">
        A CI step reads the quarantine as one test name per line, to skip or ignore those tests:{" "}
        <code ref={code} className="mono">
          {url}
        </code>{" "}
        <CopyButton text={url} label="Copy URL" target={code} />
      </p>
    </section>
  );
}

/**
 * Finds a test among those with results in the page's period and filters (the most failing first),
 * and quarantines it in its repository with an optional reason.
 */
function AddToQuarantine({ view }: { view: View }) {
  const [draft, setDraft] = useState("");
  const [q, setQ] = useState("");
  const [reason, setReason] = useState("");
  const found = useFindTests(view, q);
  const act = useQuarantineAction();
  const tests: Schemas["TestStats"][] = found.data?.tests ?? [];
  return (
    <div className="col quarantine-add">
      <h3 id="quarantine-add-title">Add a test</h3>
      <form
        role="search"
        aria-labelledby="quarantine-add-title"
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(draft.trim());
        }}
      >
        <label className="row">
          <span className="sr-only">Find a test to quarantine</span>
          <input
            type="search"
            placeholder="Suite, class or name"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
          />
        </label>
        <button type="submit" className="btn">
          Find
        </button>
        <label className="row">
          <span className="muted small">Reason (optional)</span>
          <input
            type="text"
            maxLength={1000}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            placeholder="flaky on slow runners"
          />
        </label>
      </form>
      {q === "" ? null : found.isPending ? (
        <Skeleton lines={2} />
      ) : found.isError ? (
        <ErrorBox error={found.error} retry={() => void found.refetch()} />
      ) : tests.length === 0 ? (
        <p className="muted">No test matching “{q}” has results in this period.</p>
      ) : (
        <>
          <ul className="found-tests" aria-label="Tests found">
            {tests.map((t) => (
              <li key={`${t.repo}|${t.test_id}`} className="row" data-test-id={t.test_id}>
                <span className="test-cell">
                  <strong className="truncate">{t.name}</strong>
                  <span className="muted small truncate">
                    {testContext(t)} · {t.repo}
                  </span>
                </span>
                <span className="spacer" />
                {t.quarantined ? (
                  <span className="pill warn">quarantined</span>
                ) : (
                  <button
                    type="button"
                    className="btn small"
                    disabled={act.isPending}
                    aria-label={`Quarantine ${t.name} in ${t.repo}`}
                    onClick={() =>
                      act.mutate(
                        { action: "quarantine", repo: t.repo, test_id: t.test_id, reason },
                        { onSuccess: () => setReason("") },
                      )
                    }
                  >
                    Quarantine
                  </button>
                )}
              </li>
            ))}
          </ul>
          {(found.data?.total ?? 0) > FOUND_LIMIT && (
            <p className="muted small">
              The {FOUND_LIMIT} most failing of {formatCount(found.data?.total)}: narrow the search to find others.
            </p>
          )}
        </>
      )}
      {act.isError && <ErrorBox error={act.error} />}
    </div>
  );
}

/** The auto-quarantine rule, a setting (`auto_quarantine`): off, or flaky on N commits within D days. */
function AutoQuarantine() {
  const settings = useSettings();
  const save = useSaveSettings();
  const [form, setForm] = useState<AutoQuarantineForm | null>(null);
  const [tried, setTried] = useState(false);
  if (settings.isPending) return <Skeleton lines={1} />;
  if (settings.isError) return <ErrorBox error={settings.error} retry={() => void settings.refetch()} />;
  const stored = settings.data.auto_quarantine ?? null;
  if (!form) {
    return (
      <p className="row" data-testid="auto-quarantine">
        <span>
          <strong>Auto-quarantine:</strong> {describeAutoQuarantine(stored)}.
        </span>
        <button
          type="button"
          className="btn small"
          onClick={() => {
            save.reset();
            setTried(false);
            setForm(autoQuarantineForm(stored));
          }}
        >
          Change
        </button>
        {save.isSuccess && (
          <span role="status" className="muted">
            Saved.
          </span>
        )}
      </p>
    );
  }
  const problems = autoQuarantineProblems(form);
  const shown = tried ? problems : [];
  const invalid = (field: string) => shown.some((p) => p.field === field) || undefined;
  return (
    <form
      className="row auto-quarantine"
      aria-label="Auto-quarantine"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (problems.length > 0) return;
        // A replacement: the other settings go back as they are.
        save.mutate({ ...settings.data, auto_quarantine: autoQuarantineOf(form) }, { onSuccess: () => setForm(null) });
      }}
    >
      <label className="row">
        <input type="checkbox" checked={form.on} onChange={(e) => setForm({ ...form, on: e.target.checked })} />{" "}
        Quarantine a test by itself when it flaked on
      </label>
      <label className="row">
        <span className="sr-only">Flaky commits</span>
        <input
          type="number"
          min={AUTO_QUARANTINE_FLAKES.min}
          max={AUTO_QUARANTINE_FLAKES.max}
          step={1}
          disabled={!form.on}
          aria-invalid={invalid("flakes")}
          value={form.flakes}
          onChange={(e) => setForm({ ...form, flakes: e.target.value })}
        />
      </label>
      <span>commits within</span>
      <label className="row">
        <span className="sr-only">Days</span>
        <input
          type="number"
          min={AUTO_QUARANTINE_DAYS.min}
          max={AUTO_QUARANTINE_DAYS.max}
          step={1}
          disabled={!form.on}
          aria-invalid={invalid("days")}
          value={form.days}
          onChange={(e) => setForm({ ...form, days: e.target.value })}
        />
      </label>
      <span>days</span>
      <button type="submit" className="btn primary small" disabled={save.isPending}>
        Save
      </button>
      <button type="button" className="btn small" onClick={() => setForm(null)}>
        Cancel
      </button>
      {shown.length > 0 && (
        <ErrorBox error={{ message: "The auto-quarantine rule is not valid.", details: shown.map(prefixed) }} />
      )}
      {save.isError && <ErrorBox error={save.error} />}
    </form>
  );
}

/** A form field's problem under the setting's name, as the API names it (`auto_quarantine.days`). */
function prefixed(p: Schemas["FieldError"]): Schemas["FieldError"] {
  return { ...p, field: `auto_quarantine.${p.field}` };
}
