import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { AuthProvider } from "../../components/Auth";
import { Rules } from "./Rules";

afterEach(() => vi.unstubAllGlobals());

/**
 * Renders the rules with an API that has no rule and no integration; returns what was POSTed. A
 * `refuse` answer replaces the POST's 201 (the backend's 422, say).
 */
function renderRules(refuse?: unknown) {
  const posted: unknown[] = [];
  const fetch = vi.fn(async (req: Request) => {
    if (req.method === "POST") {
      const body = (await req.json()) as { name: string; spec: unknown };
      posted.push(body);
      if (refuse) {
        return new Response(JSON.stringify(refuse), { status: 422, headers: { "Content-Type": "application/json" } });
      }
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

type Posted = { spec: { condition: unknown; match: unknown } };

it("creates a FlakyTest rule on the runs its selector matches", async () => {
  const posted = renderRules();
  await newRule("FlakyTest");
  // The flakes of the runs the selector matches: all of it applies.
  fireEvent.change(screen.getByLabelText("Repository (glob)"), { target: { value: "acme/*" } });
  fireEvent.change(screen.getByLabelText("Branches (comma-separated globs)"), { target: { value: "main" } });
  fireEvent.change(screen.getByLabelText("Flaked within"), { target: { value: "3d" } });
  expect(
    screen.getByText(
      /Fires on: a test flaked \(failed and passed on one commit\) within 3d, once per test · watches tests of acme\/\* · main/,
    ),
  ).toBeTruthy();
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  const spec = (posted[0] as Posted).spec;
  expect(spec.condition).toEqual({ type: "FlakyTest", window: "3d" });
  expect(spec.match).toEqual({ repo: "acme/*", workflows: [], branches: ["main"] });
});

it("creates a TestFailureRate rule on a glob, keeping only the repository of the selector", async () => {
  const posted = renderRules();
  await screen.findByText(/No alert rules yet/);
  fireEvent.click(screen.getByRole("button", { name: "New rule" }));
  fireEvent.change(screen.getByLabelText("Name"), { target: { value: "api-tests" } });
  fireEvent.change(screen.getByLabelText("Repository (glob)"), { target: { value: "acme/api" } });
  fireEvent.change(screen.getByLabelText("Workflows (comma-separated)"), { target: { value: "ci" } });
  fireEvent.change(screen.getByLabelText("Condition"), { target: { value: "TestFailureRate" } });
  // Test figures are kept per repository and day: the workflows and branches do not apply.
  expect(screen.queryByLabelText("Workflows (comma-separated)")).toBeNull();
  expect(screen.getByLabelText<HTMLInputElement>("Repository (glob)").value).toBe("acme/api");
  expect(screen.getByLabelText<HTMLInputElement>("Tests matching a glob").checked).toBe(true);
  fireEvent.change(screen.getByLabelText("Tests (glob on class::name)"), { target: { value: "tests.test_api::*" } });
  fireEvent.change(screen.getByLabelText("Failure rate (%)"), { target: { value: "30" } });
  fireEvent.change(screen.getByLabelText("Window (whole days)"), { target: { value: "14d" } });
  fireEvent.change(screen.getByLabelText("Minimum runs"), { target: { value: "10" } });
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  const spec = (posted[0] as Posted).spec;
  expect(spec.condition).toEqual({
    type: "TestFailureRate",
    testMatch: "tests.test_api::*",
    threshold: 30,
    window: "14d",
    minRuns: 10,
  });
  expect(spec.match).toEqual({ repo: "acme/api", workflows: [], branches: [] });
});

it("creates a TestFailureRate rule on one test, with no selector", async () => {
  const posted = renderRules();
  await newRule("TestFailureRate");
  fireEvent.change(screen.getByLabelText("Repository (glob)"), { target: { value: "acme/api" } });
  fireEvent.click(screen.getByLabelText("One test"));
  // One test watches that test alone; its repository is the one typed above.
  expect(screen.queryByLabelText("Repository (glob)")).toBeNull();
  expect(screen.queryByLabelText("Tests (glob on class::name)")).toBeNull();
  expect(screen.getByLabelText<HTMLInputElement>("Test's repository").value).toBe("acme/api");
  fireEvent.change(screen.getByLabelText("Test name"), { target: { value: "test_login" } });
  fireEvent.change(screen.getByLabelText("Test class (optional)"), { target: { value: "tests.test_api" } });
  expect(screen.getByText(/watches test acme\/api · tests.test_api::test_login$/, { selector: "p" })).toBeTruthy();
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  const spec = (posted[0] as Posted).spec;
  // The suite, left blank, is left out: any suite.
  expect(spec.condition).toEqual({
    type: "TestFailureRate",
    test: { repo: "acme/api", name: "test_login", classname: "tests.test_api" },
    threshold: 20,
    window: "7d",
    minRuns: 5,
  });
  expect(spec.match).toEqual({ repo: null, workflows: [], branches: [] });
});

it("says what is wrong before saving, as the backend would, and shows the backend's field errors", async () => {
  const refusal = {
    error: {
      code: "validation_failed",
      message: "the request has invalid fields",
      details: [{ field: "spec.notify.integrations[0].name", message: 'no integration named "pager"' }],
    },
  };
  const posted = renderRules(refusal);
  await newRule("TestFailureRate");
  fireEvent.change(screen.getByLabelText("Tests (glob on class::name)"), { target: { value: "tests.{a,b" } });
  fireEvent.change(screen.getByLabelText("Window (whole days)"), { target: { value: "6h" } });
  fireEvent.change(screen.getByLabelText("Failure rate (%)"), { target: { value: "0" } });
  await save();
  const form = screen.getByRole("form", { name: "New alert rule" });
  const problems = within(form).getByRole("alert");
  expect(problems.textContent).toContain("The rule has invalid fields.");
  expect([...problems.querySelectorAll("li")].map((li) => li.textContent)).toEqual([
    "spec.condition.threshold: must be a percentage above 0 and at most 100",
    `spec.condition.testMatch: "tests.{a,b" is not a valid glob: unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)`,
    "spec.condition.window: must be between 1d and 90d (tests are counted by UTC day)",
  ]);
  expect(screen.getByLabelText("Window (whole days)").getAttribute("aria-invalid")).toBe("true");
  expect(posted).toEqual([]);

  // Fixed: saved, and what only the backend knows comes back the same way.
  fireEvent.change(screen.getByLabelText("Tests (glob on class::name)"), { target: { value: "tests.{a,b}::*" } });
  fireEvent.change(screen.getByLabelText("Window (whole days)"), { target: { value: "1d" } });
  fireEvent.change(screen.getByLabelText("Failure rate (%)"), { target: { value: "50" } });
  expect(within(form).queryByRole("alert")).toBeNull();
  fireEvent.change(screen.getByLabelText("Notify (integration names, comma-separated)"), {
    target: { value: "pager" },
  });
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  const alert = await within(form).findByRole("alert");
  expect(alert.textContent).toContain("the request has invalid fields");
  expect(alert.textContent).toContain('spec.notify.integrations[0].name: no integration named "pager"');
});

it("creates a ChangeFailureRate rule on the services a glob matches, clearing a selector typed before", async () => {
  const posted = renderRules();
  await screen.findByText(/No alert rules yet/);
  fireEvent.click(screen.getByRole("button", { name: "New rule" }));
  fireEvent.change(screen.getByLabelText("Name"), { target: { value: "payments-cfr" } });
  fireEvent.change(screen.getByLabelText("Repository (glob)"), { target: { value: "acme/*" } });
  fireEvent.change(screen.getByLabelText("Condition"), { target: { value: "ChangeFailureRate" } });
  // Production deployments, by service: the runs selector does not apply.
  expect(screen.queryByLabelText("Repository (glob)")).toBeNull();
  fireEvent.change(screen.getByLabelText("Services (glob; blank for every service)"), {
    target: { value: "payments-*" },
  });
  fireEvent.change(screen.getByLabelText("Change failure rate (%)"), { target: { value: "20" } });
  fireEvent.change(screen.getByLabelText("Window"), { target: { value: "14d" } });
  fireEvent.change(screen.getByLabelText("Minimum deployments"), { target: { value: "10" } });
  expect(
    screen.getByText(
      "Fires on: change failure rate ≥ 20% over 14d (at least 10 deployments) · watches production deployments of the services matching payments-*, one incident per service",
    ),
  ).toBeTruthy();
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  const spec = (posted[0] as Posted).spec;
  expect(spec.match).toEqual({ repo: null, workflows: [], branches: [] });
  expect(spec.condition).toEqual({
    type: "ChangeFailureRate",
    threshold: 20,
    window: "14d",
    minDeployments: 10,
    service: "payments-*",
  });
});

it("creates a LeadTime rule for every service when the glob is blank, after refusing a bad glob", async () => {
  const posted = renderRules();
  await newRule("LeadTime");
  const services = () => screen.getByLabelText<HTMLInputElement>("Services (glob; blank for every service)");
  fireEvent.change(services(), { target: { value: "api-{" } });
  fireEvent.change(screen.getByLabelText("Percentile"), { target: { value: "p50" } });
  fireEvent.change(screen.getByLabelText("Lead time above"), { target: { value: "1d" } });
  await save();
  // An invalid glob is named before anything is sent.
  expect(screen.getByRole("alert").textContent).toContain("spec.condition.service");
  expect(services().getAttribute("aria-invalid")).toBe("true");
  expect(posted).toEqual([]);
  fireEvent.change(services(), { target: { value: "" } });
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  expect((posted[0] as Posted).spec.condition).toEqual({
    type: "LeadTime",
    stat: "p50",
    threshold: "1d",
    window: "7d",
  });
});

it("creates a DeploymentFailed rule", async () => {
  const posted = renderRules();
  await newRule("DeploymentFailed");
  fireEvent.change(screen.getByLabelText("Services (glob; blank for every service)"), { target: { value: "web" } });
  expect(screen.getByText(/Fires on: a production deployment failed, until the next one succeeds/)).toBeTruthy();
  await save();
  await waitFor(() => expect(posted).toHaveLength(1));
  expect((posted[0] as Posted).spec.condition).toEqual({ type: "DeploymentFailed", service: "web" });
});
