// Shown instead of empty charts until the first run arrives: how to send one.
export function EmptyState() {
  const origin = window.location.origin;
  const curl = `curl -X POST ${origin}/api/events \\
  -H "Authorization: Bearer $CICD_TOKEN" -H "Content-Type: application/json" \\
  -d '{"pipeline_id":"run_1","workflow":"build","repo":"org/repo","branch":"main",
       "status":"success","started_at":"${new Date(Date.now() - 300_000).toISOString()}",
       "finished_at":"${new Date().toISOString()}"}'`;
  return (
    <section className="card empty" aria-labelledby="empty-title">
      <h2 id="empty-title">No runs yet — send the first one</h2>
      <ol>
        <li>
          Create an ingest token (Settings → API tokens, or <code>cicd-monitor token create --scope ingest --name ci</code>).
        </li>
        <li>
          Post a run:
          <pre>{curl}</pre>
        </li>
        <li>
          Or point a GitHub webhook at <code>{origin}/api/webhooks/github</code>: content type <code>application/json</code>,
          the secret you set in <code>GITHUB_WEBHOOK_SECRET</code>, events <em>Workflow runs</em> and <em>Workflow jobs</em>.
          GitLab (<code>/api/webhooks/gitlab</code>), Jenkins (<code>/api/webhooks/jenkins</code>) and CDEvents
          (<code>/api/webhooks/cdevents</code>) work the same way; see the README.
        </li>
      </ol>
      <p className="muted">This page updates by itself when the first run arrives.</p>
    </section>
  );
}
