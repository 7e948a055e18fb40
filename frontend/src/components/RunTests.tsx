// The run panel's "Tests" tab: the counts of the run's reports, then the cases that failed, erred or
// flaked (with their message, and their output folded), then the others folded; each case's name
// opens its history in the tests view.
import type { Schemas } from "../api/client";
import { formatCount, formatDuration } from "../lib/format";
import { isFailure, runCounts, TEST_STATUS_ORDER, testContext } from "../lib/tests";
import type { TestRef } from "../lib/url";
import { TestStatusBadge } from "./common";

type RunTestCase = Schemas["RunTestCase"];

function Case({ c, onOpen }: { c: RunTestCase; onOpen?: () => void }) {
  return (
    <li data-test-id={c.test_id} data-status={c.status}>
      <div className="row">
        <TestStatusBadge status={c.status} />
        {onOpen ? (
          <button type="button" className="link test-name" onClick={onOpen} title={`Open the history of ${c.name}`}>
            {c.name}
          </button>
        ) : (
          <strong className="test-name">{c.name}</strong>
        )}
        <span className="muted small" title={c.file || undefined}>
          {testContext(c)}
        </span>
        <span className="spacer" />
        {c.job && <span className="pill">{c.job}</span>}
        {c.attempts > 1 && <span className="pill">{c.attempts} attempts</span>}
        <span>{formatDuration(c.duration_seconds)}</span>
      </div>
      {c.message && <pre className={isFailure(c.status) ? "test-message failure" : "test-message"}>{c.message}</pre>}
      {c.output && (
        <details className="test-output">
          <summary>Output</summary>
          <pre className="json" tabIndex={0}>
            {c.output}
          </pre>
        </details>
      )}
    </li>
  );
}

export function RunTests({
  tests,
  repo,
  onOpenTest,
}: {
  tests: Schemas["RunTests"];
  /** The run's repository: a test's history is per repository. */
  repo: string;
  /** Opens a test's history (its name is plain text without it). */
  onOpenTest?: (test: TestRef) => void;
}) {
  const counts = runCounts(tests.summary);
  const notable = tests.cases.filter((c) => c.status !== "passed" && c.status !== "skipped");
  const others = tests.cases.filter((c) => c.status === "passed" || c.status === "skipped");
  const item = (c: RunTestCase, i: number) => (
    <Case
      key={`${c.test_id}|${c.job}|${i}`}
      c={c}
      onOpen={onOpenTest ? () => onOpenTest({ id: c.test_id, repo }) : undefined}
    />
  );
  return (
    <>
      <p className="row test-summary" data-testid="test-summary">
        <span>
          {formatCount(tests.summary.tests)} tests in {formatCount(tests.reports)}{" "}
          {tests.reports === 1 ? "report" : "reports"}:
        </span>
        {TEST_STATUS_ORDER.filter((s) => counts[s] > 0).map((s) => (
          <TestStatusBadge key={s} status={s} count={counts[s]} />
        ))}
      </p>
      <section aria-labelledby="panel-failures">
        <h3 id="panel-failures">Failures and flaky tests</h3>
        {notable.length === 0 ? (
          <p className="muted">No test failed or flaked in this run.</p>
        ) : (
          <ul className="jobs test-cases">{notable.map(item)}</ul>
        )}
      </section>
      {others.length > 0 && (
        <details className="test-others">
          <summary>Passed and skipped ({formatCount(others.length)})</summary>
          <ul className="jobs test-cases">{others.map(item)}</ul>
        </details>
      )}
      {tests.truncated && (
        <p className="muted small">
          Showing the first {formatCount(tests.cases.length)} cases (failures first); the counts above are of every
          case.
        </p>
      )}
    </>
  );
}
