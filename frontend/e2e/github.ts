// GitHub Actions for the browser tests: a webhook source stored in the backend, and `workflow_run`
// and `workflow_job` deliveries of one repository and commit, as GitHub sends them, signed with the
// source's secret.
import { createHmac, randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { Backend } from "./backend";

export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export type RunStatus = "queued" | "in_progress" | "completed";

export interface JobSpec {
  runId: number;
  /** The run's attempt: 1, or a re-run's (2 and up). */
  attempt?: number;
  id: number;
  name: string;
  labels: string[];
  queuedAt: number;
  queueS?: number;
  ranS?: number;
  conclusion?: "success" | "failure";
}

export interface GitHub {
  /** Delivers an event, signed with the source's secret, as GitHub does. */
  deliver(event: "workflow_run" | "workflow_job", payload: unknown): Promise<void>;
  /** A `workflow_run` delivery of run `id` (attempt 1 unless told), started at `at` and 15 minutes long. */
  workflowRun(id: number, at: number, status: RunStatus, conclusion?: string, attempt?: number): unknown;
  /** A `workflow_job` delivery: queued, in progress or completed (with its conclusion). */
  workflowJob(job: JobSpec, action: "queued" | "in_progress" | "completed"): unknown;
}

/** Stores a GitHub webhook source named `name` with `secret`, for the runs of `repo` on commit `sha`. */
export async function github(
  server: Backend,
  { name, secret, repo, sha }: { name: string; secret: string; repo: string; sha: string },
): Promise<GitHub> {
  const source = await server.api("/api/webhook-sources", { body: { provider: "github", name, secret } });
  expect(source.status, JSON.stringify(source.body)).toBe(201);
  return {
    async deliver(event, payload) {
      const body = JSON.stringify(payload);
      const signature = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
      const res = await fetch(`${server.url}/api/webhooks/github`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-GitHub-Event": event,
          "X-GitHub-Delivery": randomUUID(),
          "X-Hub-Signature-256": signature,
        },
        body,
      });
      expect(res.status, await res.text()).toBe(200);
    },

    workflowRun(id, at, status, conclusion, attempt = 1) {
      return {
        action: status === "completed" ? "completed" : status === "queued" ? "requested" : "in_progress",
        workflow_run: {
          id,
          name: "CI",
          run_number: id,
          run_attempt: attempt,
          head_branch: "main",
          head_sha: sha,
          event: "push",
          status,
          conclusion: conclusion ?? null,
          created_at: iso(at),
          run_started_at: iso(at),
          updated_at: iso(at + 15 * 60_000),
          html_url: `https://github.com/${repo}/actions/runs/${id}`,
        },
        repository: { full_name: repo },
      };
    },

    workflowJob(job, action) {
      const started = job.queuedAt + (job.queueS ?? 0) * 1000;
      const hosted = !job.labels.includes("self-hosted");
      return {
        action,
        workflow_job: {
          id: job.id,
          run_id: job.runId,
          run_attempt: job.attempt ?? 1,
          name: job.name,
          workflow_name: "CI",
          head_branch: "main",
          head_sha: sha,
          status: action,
          conclusion: action === "completed" ? (job.conclusion ?? "success") : null,
          created_at: iso(job.queuedAt),
          started_at: iso(action === "queued" ? job.queuedAt : started),
          completed_at: action === "completed" ? iso(started + (job.ranS ?? 60) * 1000) : null,
          labels: job.labels,
          runner_name: action === "queued" ? null : "runner-1",
          runner_group_name: action === "queued" ? null : hosted ? "GitHub Actions" : "e2e-pool",
          html_url: `https://github.com/${repo}/actions/runs/${job.runId}/job/${job.id}`,
          steps: [],
        },
        repository: { full_name: repo },
      };
    },
  };
}
