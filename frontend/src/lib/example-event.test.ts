import { describe, expect, it } from "vitest";
import type { GenericEvent } from "../api/client";
import { exampleCurl, exampleEvent, exampleTestsCurl } from "./example-event";

/** The keys of T that are not optional. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

// Every required field of the generated schema type; the compiler fails this list when the schema
// gains or loses one (so the test below keeps checking the right fields).
const REQUIRED = ["id", "repo", "workflow", "status"] as const satisfies readonly RequiredKeys<GenericEvent>[];
type Unlisted = Exclude<RequiredKeys<GenericEvent>, (typeof REQUIRED)[number]>;
const allListed: [Unlisted] extends [never] ? true : false = true;

describe("the first-run example", () => {
  it("is a body POST /api/events accepts: every required field, in a consistent order of times", () => {
    expect(allListed).toBe(true);
    const curl = exampleCurl("https://ci.example", exampleEvent(new Date("2026-11-27T12:00:00Z")));
    const body = JSON.parse(/-d '([\s\S]*)'$/.exec(curl)![1]!) as Record<string, unknown>;
    for (const key of REQUIRED) expect(body[key], key).toBeTruthy();
    expect(body).not.toHaveProperty("pipeline_id");
    expect(["queued", "running", "success", "failure", "cancelled", "skipped"]).toContain(body.status);
    const [queued, started, finished] = [body.queued_at, body.started_at, body.finished_at].map((t) =>
      Date.parse(t as string),
    );
    expect(queued).toBeLessThanOrEqual(started!);
    expect(started).toBeLessThanOrEqual(finished!);
    expect(curl).toMatch(/^curl -X POST https:\/\/ci\.example\/api\/events \\\n/);
    expect(curl).toContain('-H "Authorization: Bearer $CICD_TOKEN"');
  });
});

describe("the test upload example", () => {
  it("is one line that posts a JUnit report to the run's tests, the run id encoded", () => {
    const curl = exampleTestsCurl("https://ci.example", "github:acme/api:7:1");
    expect(curl).not.toContain("\n");
    expect(curl).toContain('-X POST "https://ci.example/api/runs/github%3Aacme%2Fapi%3A7%3A1/tests?job=test"');
    expect(curl).toContain('-H "Authorization: Bearer $CICD_TOKEN"');
    expect(curl).toContain('-H "Content-Type: application/xml" --data-binary @junit.xml');
    // By default, the run the first-run example posts.
    expect(exampleTestsCurl("https://ci.example")).toContain(`/api/runs/${exampleEvent().id}/tests`);
  });
});
