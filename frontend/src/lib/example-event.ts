// The first-run example: a run in the generic format and the curl command that posts it.
import type { GenericEvent } from "../api/client";

/** A run in the generic format (`POST /api/events`), typed by the API's own schema. */
export function exampleEvent(now: Date = new Date()): GenericEvent {
  return {
    id: "build-1042",
    repo: "org/repo",
    workflow: "build",
    branch: "main",
    status: "success",
    commit_sha: "3f2c9e1",
    triggered_by: "push",
    queued_at: new Date(now.getTime() - 330_000).toISOString(),
    started_at: new Date(now.getTime() - 300_000).toISOString(),
    finished_at: now.toISOString(),
  } satisfies GenericEvent;
}

/** The `curl` command that posts `exampleEvent` with an ingest token. */
export function exampleCurl(origin: string, event: GenericEvent = exampleEvent()): string {
  return [
    `curl -X POST ${origin}/api/events \\`,
    `  -H "Authorization: Bearer $CICD_TOKEN" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d '${JSON.stringify(event, null, 2)}'`,
  ].join("\n");
}

/**
 * The one-line `curl` command that uploads a JUnit XML report for the run `runId` (the example
 * event's by default) with an ingest token. The run id goes in the path encoded (`github:org/repo:7`
 * is `github%3Aorg%2Frepo%3A7`).
 */
export function exampleTestsCurl(origin: string, runId: string = exampleEvent().id): string {
  return `curl -X POST "${origin}/api/runs/${encodeURIComponent(runId)}/tests?job=test" -H "Authorization: Bearer $CICD_TOKEN" -H "Content-Type: application/xml" --data-binary @junit.xml`;
}
