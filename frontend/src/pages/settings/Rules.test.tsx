import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AuthProvider } from "../../components/Auth";
import { Rules } from "./Rules";

afterEach(() => vi.unstubAllGlobals());

/** Renders the rules with an API that has no rule and no integration; returns what was POSTed. */
function renderRules() {
  const posted: unknown[] = [];
  const fetch = vi.fn(async (req: Request) => {
    if (req.method === "POST") {
      const body = (await req.json()) as { name: string; spec: unknown };
      posted.push(body);
      return new Response(JSON.stringify({ id: 1, ...body }), {
        status: 201,
        headers: { "Content-Type": "application/json" },
      });
    }
    return new Response("[]", { headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetch);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <Rules />
      </AuthProvider>
    </QueryClientProvider>,
  );
  return posted;
}

async function newRule(type: string) {
  await screen.findByText(/No alert rules yet/);
  fireEvent.click(screen.getByRole("button", { name: "New rule" }));
  fireEvent.change(screen.getByLabelText("Name"), { target: { value: "r" } });
  fireEvent.change(screen.getByLabelText("Condition"), { target: { value: type } });
}

async function save() {
  const form = screen.getByRole("form", { name: "New alert rule" });
  await act(() => Promise.resolve(fireEvent.submit(form)));
}

it("creates a QueuedJobs rule on a label set, with no selector", async () => {
  const posted = renderRules();
  await newRule("QueuedJobs");
  // The runs selector does not apply to a runner pool.
  expect(screen.queryByLabelText("Repository (glob)")).toBeNull();
  fireEvent.change(screen.getByLabelText("Runner labels (comma-separated)"), {
    target: { value: "self-hosted, GPU" },
  });
  fireEvent.change(screen.getByLabelText("Jobs queued (at least)"), { target: { value: "3" } });
  fireEvent.change(screen.getByLabelText("For at least"), { target: { value: "10m" } });
  expect(screen.getByText(/Fires on: ≥ 3 jobs queued for \[gpu, self-hosted\] for 10m/)).toBeTruthy();
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  const spec = (posted[0] as { spec: { condition: unknown; match: unknown } }).spec;
  expect(spec.condition).toEqual({ type: "QueuedJobs", labels: ["self-hosted", "GPU"], threshold: 3, for: "10m" });
  expect(spec.match).toEqual({ repo: null, workflows: [], branches: [] });
});

it("creates a JobDuration rule naming one job and a percentile", async () => {
  const posted = renderRules();
  await newRule("JobDuration");
  fireEvent.change(screen.getByLabelText("Job's repository"), { target: { value: "acme/api" } });
  fireEvent.change(screen.getByLabelText("Job's workflow"), { target: { value: "ci" } });
  fireEvent.change(screen.getByLabelText("Job name"), { target: { value: "test" } });
  fireEvent.change(screen.getByLabelText("Percentile"), { target: { value: "p50" } });
  fireEvent.change(screen.getByLabelText("Duration above"), { target: { value: "20m" } });
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  expect((posted[0] as { spec: { condition: unknown } }).spec.condition).toEqual({
    type: "JobDuration",
    job: { repo: "acme/api", workflow: "ci", name: "test" },
    stat: "p50",
    threshold: "20m",
    window: "6h",
  });
});

it("clears a selector typed before switching to a job condition", async () => {
  const posted = renderRules();
  await screen.findByText(/No alert rules yet/);
  fireEvent.click(screen.getByRole("button", { name: "New rule" }));
  fireEvent.change(screen.getByLabelText("Name"), { target: { value: "r" } });
  fireEvent.change(screen.getByLabelText("Repository (glob)"), { target: { value: "acme/*" } });
  fireEvent.change(screen.getByLabelText("Condition"), { target: { value: "JobFailureRate" } });
  fireEvent.change(screen.getByLabelText("Job's repository"), { target: { value: "acme/api" } });
  fireEvent.change(screen.getByLabelText("Job's workflow"), { target: { value: "ci" } });
  fireEvent.change(screen.getByLabelText("Job name"), { target: { value: "test" } });
  fireEvent.change(screen.getByLabelText("Minimum runs"), { target: { value: "10" } });
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  const spec = (posted[0] as { spec: { condition: unknown; match: unknown } }).spec;
  expect(spec.match).toEqual({ repo: null, workflows: [], branches: [] });
  expect(spec.condition).toEqual({
    type: "JobFailureRate",
    job: { repo: "acme/api", workflow: "ci", name: "test" },
    threshold: 25,
    window: "1d",
    minRuns: 10,
  });
});
