// Shown instead of empty charts until the first run arrives: how to send one; and instead of empty
// test rankings: how to upload test results.
import { useRef } from "react";
import { exampleCurl, exampleTestsCurl } from "../lib/example-event";
import { CopyButton } from "./common";

export function EmptyState() {
  const origin = window.location.origin;
  const curl = exampleCurl(origin);
  const pre = useRef<HTMLPreElement>(null);
  return (
    <section className="card empty" aria-labelledby="empty-title">
      <h2 id="empty-title">No runs yet — send the first one</h2>
      <ol>
        <li>
          Create an ingest token and put it in <code>CICD_TOKEN</code>: Settings → API tokens, or, from the repository
          after <code>make run</code>, <code>export CICD_TOKEN=$(make -s token NAME=ci SCOPE=ingest)</code>.
        </li>
        <li>
          Post a run (<code>id</code>, <code>repo</code>, <code>workflow</code> and <code>status</code> are required;
          events with the same <code>id</code> update the same run):
          <div className="code-block">
            <CopyButton text={curl} label="Copy command" target={pre} />
            <pre ref={pre} data-testid="example-curl">
              {curl}
            </pre>
          </div>
        </li>
        <li>
          Or point a GitHub webhook at <code>{origin}/api/webhooks/github</code>: content type{" "}
          <code>application/json</code>, the secret you set in <code>GITHUB_WEBHOOK_SECRET</code>, events{" "}
          <em>Workflow runs</em> and <em>Workflow jobs</em>. GitLab (<code>/api/webhooks/gitlab</code>), Jenkins (
          <code>/api/webhooks/jenkins</code>) and CDEvents (<code>/api/webhooks/cdevents</code>) work the same way; see
          the README.
        </li>
      </ol>
      <p className="muted">This page updates by itself when the first run arrives.</p>
    </section>
  );
}

/** How to upload a run's test results: a JUnit XML report, with one curl command. */
export function UploadTests() {
  const curl = exampleTestsCurl(window.location.origin);
  const pre = useRef<HTMLPreElement>(null);
  return (
    <div className="empty" data-testid="upload-tests">
      <p>
        Test results come from JUnit XML reports (pytest <code>--junitxml</code>, jest-junit, gotestsum, Maven
        Surefire…) uploaded for a run with an ingest token:
      </p>
      <div className="code-block">
        <CopyButton text={curl} label="Copy command" target={pre} />
        <pre ref={pre} data-testid="upload-tests-curl">
          {curl}
        </pre>
      </div>
      <p className="muted small">
        The run id goes in the path URL-encoded (<code>github:org/repo:123</code> is{" "}
        <code>github%3Aorg%2Frepo%3A123</code>, with <code>?attempt=2</code> for its second attempt); a report may
        arrive before its run. A test that fails and passes on the same commit counts as flaky.
      </p>
    </div>
  );
}
