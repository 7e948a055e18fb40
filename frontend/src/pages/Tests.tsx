// Tests: three rankings of the tests the uploaded JUnit reports name — the flaky ones by what they
// cost (the runs they made red and those runs' minutes), the most failing, the slowest — searched and
// paged by the server. A row opens the test's history: its results by commit as a strip (each opens
// its run in the run panel), its latest failure, and the quarantine (an admin action). Below them,
// the repository's quarantine: its tests, a search to add one, and the auto-quarantine rule.
import { useEffect, useRef, useState, type ReactNode } from "react";
import type { Schemas } from "../api/client";
import {
  TESTS_PER_PAGE,
  useFlakyTests,
  useQuarantineAction,
  useQuarantineEntry,
  useTestHistory,
  useTests,
} from "../api/tests";
import { ErrorBox, Pager, SelectableRow, Skeleton, SortHeader } from "../components/common";
import { UploadTests } from "../components/EmptyState";
import { Filters } from "../components/Filters";
import { HistoryStrip } from "../components/HistoryStrip";
import { QuarantineList } from "../components/QuarantineList";
import { RunPanel } from "../components/RunPanel";
import { formatCount, formatDuration, formatPercent, formatTime } from "../lib/format";
import { formatMinutes } from "../lib/insight";
import { useZone } from "../lib/prefs";
import { countByStatus, countsText, failingSinceText, latestFailure, shortCommit, testContext } from "../lib/tests";
import type { TestRank, TestRef, View } from "../lib/url";

type TestStats = Schemas["TestStats"];
type FlakyTest = Schemas["FlakyTest"];
type TestName = Schemas["TestName"];

const RANKS: [TestRank, string][] = [
  ["flaky", "Flaky"],
  ["failing", "Most failing"],
  ["slowest", "Slowest"],
];

const refOf = (t: TestName): TestRef => ({ id: t.test_id, repo: t.repo });
const same = (a: TestRef | undefined, t: TestName) => !!a && a.id === t.test_id && a.repo === t.repo;

export function Tests({ view, onView }: { view: View; onView: (patch: Partial<View>, replace?: boolean) => void }) {
  const rank = view.testRank ?? "flaky";
  const flaky = useFlakyTests(view);
  const tests = useTests(view);
  const ranking = rank === "flaky" ? flaky : tests;
  const page = view.testsPage ?? 1;
  const total = ranking.data?.total ?? 0;
  const rows: TestName[] = ranking.data?.tests ?? [];

  return (
    <>
      <Filters view={view} onView={onView} />
      {view.test && (
        <TestHistory
          key={`${view.test.id}|${view.test.repo}`}
          test={view.test}
          branch={view.branch}
          onClose={() => onView({ test: undefined })}
          onOpenRun={(run) => onView({ run }, true)}
        />
      )}
      <article className="card" aria-labelledby="tests-title">
        <div className="chart-head">
          <h2 id="tests-title">Tests</h2>
          {ranking.data && <span className="muted">{formatCount(total)} in this period</span>}
          <span className="spacer" />
          <Search key={view.testSearch ?? ""} view={view} onView={onView} />
          <div className="seg" role="group" aria-label="Rank tests">
            {RANKS.map(([r, label]) => (
              <button
                key={r}
                type="button"
                aria-pressed={rank === r}
                onClick={() => onView({ testRank: r === "flaky" ? undefined : r })}
              >
                {label}
              </button>
            ))}
          </div>
        </div>
        {rank === "flaky" && (
          <p className="muted small">
            Tests that failed and passed on the same commit, by what they cost: the minutes of the runs they made red,
            then how many.
            {view.workflow || view.branch ? " Only flakes on commits that runs matching the filters tested." : ""}
          </p>
        )}
        {ranking.isPending ? (
          <Skeleton lines={8} />
        ) : ranking.isError ? (
          <ErrorBox error={ranking.error} retry={() => void ranking.refetch()} />
        ) : rows.length === 0 ? (
          <>
            <p className="muted">
              {view.testSearch
                ? `No test matching “${view.testSearch}” ${rank === "flaky" ? "flaked" : "has results"} in this period.`
                : rank === "flaky"
                  ? "No test flaked in this period: none failed and passed on the same commit."
                  : "No test results match these filters in this period."}
            </p>
            <UploadTests />
          </>
        ) : (
          <div className="table-wrap">
            <table className="grid tests-table" aria-labelledby="tests-title">
              {rank === "flaky" ? (
                <FlakyRows tests={flaky.data?.tests ?? []} selected={view.test} onSelect={(test) => onView({ test })} />
              ) : (
                <TestRows
                  tests={tests.data?.tests ?? []}
                  rank={rank}
                  selected={view.test}
                  onSelect={(test) => onView({ test })}
                />
              )}
            </table>
          </div>
        )}
        <Pager
          page={page}
          perPage={TESTS_PER_PAGE}
          total={total}
          noun="tests"
          onPage={(testsPage) => onView({ testsPage })}
        />
      </article>
      <QuarantineList view={view} onOpenTest={(test) => onView({ test })} />
      {view.run && (
        <RunPanel
          id={view.run}
          initialTab="tests"
          onClose={() => onView({ run: undefined }, true)}
          onOpen={(run) => onView({ run }, true)}
          onOpenTest={(test) => onView({ test, run: undefined })}
        />
      )}
    </>
  );
}

/**
 * The search of every ranking: in a test's suite, class or name. Applied when submitted (one history
 * entry per search, not per key); its draft starts over (a new key) when the URL's search changes.
 */
function Search({ view, onView }: { view: View; onView: (patch: Partial<View>) => void }) {
  const [draft, setDraft] = useState(view.testSearch ?? "");
  return (
    <form
      role="search"
      className="row test-search"
      onSubmit={(e) => {
        e.preventDefault();
        onView({ testSearch: draft.trim() || undefined });
      }}
    >
      <label className="row">
        <span className="sr-only">Search tests</span>
        <input
          type="search"
          placeholder="Suite, class or name"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
        />
      </label>
      <button type="submit" className="btn">
        Search
      </button>
    </form>
  );
}

/** A test's name, where it sits, its repository, and whether it is quarantined there. */
function NameCell({ test, extra }: { test: TestName; extra?: ReactNode }) {
  return (
    <td>
      <div className="test-cell">
        <strong className="truncate" title={test.name}>
          {test.name}
        </strong>
        <span className="muted small truncate" title={test.file || `${testContext(test)} · ${test.repo}`}>
          {testContext(test)} · {test.repo}
        </span>
        {extra}
      </div>
    </td>
  );
}

function Quarantined({ on }: { on: boolean }) {
  return on ? <span className="pill warn">quarantined</span> : null;
}

function FlakyRows({
  tests,
  selected,
  onSelect,
}: {
  tests: FlakyTest[];
  selected: TestRef | undefined;
  onSelect: (test: TestRef) => void;
}) {
  const zone = useZone();
  return (
    <>
      <thead>
        <tr>
          <th scope="col">Test</th>
          <th scope="col">Red runs</th>
          <SortHeader label="Red minutes" sorted />
          <th scope="col">Flaky commits</th>
          <th scope="col">Flake rate</th>
          <th scope="col">Runs</th>
          <th scope="col">First seen</th>
          <th scope="col">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {tests.map((t) => (
          <SelectableRow
            key={`${t.repo}|${t.test_id}`}
            selected={same(selected, t)}
            onSelect={() => onSelect(refOf(t))}
            data-test-id={t.test_id}
          >
            <NameCell test={t} extra={<Quarantined on={t.quarantined} />} />
            <td className="figure">{formatCount(t.red_runs)}</td>
            <td className="figure">{formatMinutes(t.red_minutes)}</td>
            <td className="figure">{formatCount(t.flakes)}</td>
            <td className="figure">{formatPercent(t.flake_rate)}</td>
            <td className="figure">{formatCount(t.runs)}</td>
            <td className="when" title={formatTime(t.first_seen, zone, "full")}>
              {formatTime(t.first_seen, zone)}
            </td>
            <td className="when" title={formatTime(t.last_seen, zone, "full")}>
              {formatTime(t.last_seen, zone)}
            </td>
          </SelectableRow>
        ))}
      </tbody>
    </>
  );
}

function TestRows({
  tests,
  rank,
  selected,
  onSelect,
}: {
  tests: TestStats[];
  rank: TestRank;
  selected: TestRef | undefined;
  onSelect: (test: TestRef) => void;
}) {
  const zone = useZone();
  return (
    <>
      <thead>
        <tr>
          <th scope="col">Test</th>
          <th scope="col">Runs</th>
          <SortHeader label="Failures" sorted={rank === "failing"} />
          <th scope="col">Failure rate</th>
          <th scope="col">Flake rate</th>
          <SortHeader label="Average duration" sorted={rank === "slowest"} />
          <th scope="col">Duration p50 / p95</th>
          <th scope="col">Last failure</th>
        </tr>
      </thead>
      <tbody>
        {tests.map((t) => (
          <SelectableRow
            key={`${t.repo}|${t.test_id}`}
            selected={same(selected, t)}
            onSelect={() => onSelect(refOf(t))}
            data-test-id={t.test_id}
          >
            <NameCell
              test={t}
              extra={
                <>
                  <Quarantined on={t.quarantined} />
                  {t.failing_since && (
                    <span
                      className="small failing-since"
                      title={`First failed ${formatTime(t.failing_since.first_failing_at, zone, "full")} in run ${t.failing_since.first_failing_run}`}
                    >
                      {failingSinceText(t.failing_since)}
                    </span>
                  )}
                </>
              }
            />
            <td className="figure">{formatCount(t.runs)}</td>
            <td className="figure">
              {formatCount(t.failures)}
              {t.errors > 0 && <span className="muted small"> ({formatCount(t.errors)} errors)</span>}
            </td>
            <td className="figure">{formatPercent(t.failure_rate)}</td>
            <td className="figure">{formatPercent(t.flake_rate)}</td>
            <td className="figure">{formatDuration(t.duration_avg_seconds)}</td>
            <td className="figure">
              {formatDuration(t.duration_p50_seconds)} / {formatDuration(t.duration_p95_seconds)}
            </td>
            <td className="when" title={formatTime(t.last_failure_at, zone, "full")}>
              {formatTime(t.last_failure_at, zone)}
            </td>
          </SelectableRow>
        ))}
      </tbody>
    </>
  );
}

/** One test's history in its repository: the strip, its latest failure, and the quarantine. */
function TestHistory({
  test,
  branch,
  onClose,
  onOpenRun,
}: {
  test: TestRef;
  branch: string | undefined;
  onClose: () => void;
  onOpenRun: (run: string) => void;
}) {
  const zone = useZone();
  const history = useTestHistory(test, branch);
  const heading = useRef<HTMLHeadingElement>(null);
  // Opened from the table below (or the run panel): brought into view, with focus on its title.
  useEffect(() => {
    heading.current?.focus({ preventScroll: true });
    heading.current?.scrollIntoView?.({ block: "nearest" });
  }, []);
  const name = history.data?.test.name ?? `test ${test.id}`;
  const results = history.data?.results ?? [];
  const failure = latestFailure(results);
  const flakyCommits = new Set(results.filter((r) => r.flaky_commit).map((r) => r.commit)).size;
  return (
    <section className="card test-history" aria-labelledby="test-history-title">
      <div className="chart-head">
        <h2 id="test-history-title" ref={heading} tabIndex={-1}>
          {name}{" "}
          <span className="muted">
            {history.data ? `${testContext(history.data.test)} · ` : ""}
            {test.repo}
          </span>
        </h2>
        <span className="spacer" />
        <button type="button" className="btn small" onClick={onClose} aria-label={`Close the history of ${name}`}>
          ✕
        </button>
      </div>
      {history.isPending ? (
        <Skeleton lines={4} />
      ) : history.isError ? (
        <ErrorBox error={history.error} retry={() => void history.refetch()} />
      ) : (
        <>
          {history.data.test.file && <p className="muted small mono">{history.data.test.file}</p>}
          <Quarantine
            test={test}
            quarantined={history.data.quarantined_in.includes(test.repo)}
            elsewhere={history.data.quarantined_in.filter((r) => r !== test.repo)}
          />
          {results.length === 0 ? (
            <p className="muted">
              No results of this test in {test.repo}
              {branch ? ` on ${branch}` : ""}.
            </p>
          ) : (
            <>
              <p className="muted">
                {history.data.next_before != null ? `The newest ${formatCount(results.length)} results` : "Results"} in{" "}
                {test.repo}
                {branch ? ` on ${branch}` : ""}: {countsText(countByStatus(results))}
                {flakyCommits > 0 &&
                  `; flaky on ${formatCount(flakyCommits)} ${flakyCommits === 1 ? "commit" : "commits"}`}
                . A cell opens its run.
              </p>
              <HistoryStrip results={results} name={name} onOpenRun={onOpenRun} />
            </>
          )}
          {failure && (
            <div className="latest-failure">
              <h3 id="latest-failure-title">Latest failure</h3>
              <p className="row muted small">
                <span title={formatTime(failure.run_at, zone, "full")}>{formatTime(failure.run_at, zone)}</span>
                <span>
                  commit <span className="mono">{shortCommit(failure.commit)}</span>
                </span>
                {failure.job && <span className="pill">{failure.job}</span>}
                <button
                  type="button"
                  className="btn small"
                  onClick={() => onOpenRun(failure.run_id)}
                  aria-label={`Open run ${failure.run_id}`}
                >
                  Open run
                </button>
              </p>
              {failure.message ? (
                <pre className="test-message failure" aria-labelledby="latest-failure-title">
                  {failure.message}
                </pre>
              ) : (
                <p className="muted">The report gave no message.</p>
              )}
            </div>
          )}
        </>
      )}
    </section>
  );
}

/**
 * Whether the test is quarantined in its repository (CI may skip or ignore it; its history says),
 * with who did it and why; quarantining (with an optional reason) and releasing ask for an admin
 * token when needed.
 */
function Quarantine({
  test,
  quarantined,
  elsewhere,
}: {
  test: TestRef;
  quarantined: boolean;
  /** The other repositories whose quarantine holds the test. */
  elsewhere: string[];
}) {
  const zone = useZone();
  const { data: entry } = useQuarantineEntry(test, quarantined);
  const act = useQuarantineAction();
  const [reason, setReason] = useState("");
  return (
    <div className="quarantine" data-testid="quarantine">
      {quarantined ? (
        <div className="row">
          <span className="pill warn">quarantined</span>
          {entry && (
            <span className="muted small">
              by {entry.created_by},{" "}
              <span title={formatTime(entry.created_at, zone, "full")}>{formatTime(entry.created_at, zone)}</span>
              {entry.reason ? `: ${entry.reason}` : ""}
            </span>
          )}
          <span className="spacer" />
          <button
            type="button"
            className="btn small"
            disabled={act.isPending}
            onClick={() => act.mutate({ action: "release", repo: test.repo, test_id: test.id })}
          >
            Release
          </button>
        </div>
      ) : (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            act.mutate(
              { action: "quarantine", repo: test.repo, test_id: test.id, reason },
              { onSuccess: () => setReason("") },
            );
          }}
        >
          <label className="row">
            <span className="muted small">Reason (optional)</span>
            <input
              type="text"
              maxLength={1000}
              value={reason}
              disabled={act.isPending}
              onChange={(e) => setReason(e.target.value)}
              placeholder="flaky on slow runners"
            />
          </label>
          <button type="submit" className="btn small" disabled={act.isPending}>
            Quarantine
          </button>
          <span className="muted small">CI can skip or ignore quarantined tests (GET /api/tests/quarantine).</span>
        </form>
      )}
      {elsewhere.length > 0 && <p className="muted small">Also quarantined in {elsewhere.join(", ")}.</p>}
      {act.isError && <ErrorBox error={act.error} />}
    </div>
  );
}
