import { describe, expect, it } from "vitest";
import { formatView, naturalGrain, parseView, windowOf, withFilter, type View } from "./url";

describe("URL state", () => {
  it("round-trips every field and leaves defaults out", () => {
    const view: View = {
      page: "dashboard",
      repo: "acme/api",
      workflow: "ci",
      branch: "release/1.4",
      status: "failure",
      range: "30d",
      group: "day",
      tz: "Europe/Berlin",
      sort: "slowest",
      run: "run 1/2",
    };
    const url = formatView(view);
    expect(url).toBe(
      "/?repo=acme%2Fapi&workflow=ci&branch=release%2F1.4&status=failure&range=30d&group=day&tz=Europe%2FBerlin&sort=slowest&run=run+1%2F2",
    );
    const [path, search] = url.split("?");
    expect(parseView(path!, search!)).toEqual(view);
    expect(formatView({ page: "dashboard", range: "7d", sort: "newest" })).toBe("/");
    expect(formatView({ page: "settings", range: "7d", sort: "newest" })).toBe("/settings");
  });

  it("keeps a custom range only when it is a real window", () => {
    const ok = parseView("/", "range=custom&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z");
    expect(ok).toMatchObject({ range: "custom", from: "2026-11-01T00:00:00.000Z", to: "2026-11-02T00:00:00.000Z" });
    expect(parseView("/", "range=custom&from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z").range).toBe("7d");
    expect(parseView("/", "range=custom&from=garbage").range).toBe("7d");
    expect(parseView("/", "range=7d&from=2026-11-01T00:00:00Z").from).toBeUndefined();
  });

  it("ignores unknown values instead of failing", () => {
    expect(parseView("/", "range=2y&group=month&sort=random&status=exploded&repo=%20")).toEqual({
      page: "dashboard",
      range: "7d",
      sort: "newest",
    });
    expect(parseView("/settings/", "").page).toBe("settings");
  });

  it("clears the workflow when the repository changes", () => {
    const v: View = { page: "dashboard", range: "7d", sort: "newest", repo: "a", workflow: "ci" };
    expect(withFilter(v, { repo: "b" })).toEqual({ page: "dashboard", range: "7d", sort: "newest", repo: "b" });
    expect(withFilter(v, { repo: "b", workflow: "deploy" }).workflow).toBe("deploy");
    expect(withFilter(v, { branch: "main" })).toMatchObject({ repo: "a", workflow: "ci", branch: "main" });
    expect("workflow" in withFilter(v, { workflow: undefined })).toBe(false);
  });
});

describe("windows", () => {
  const now = new Date("2026-11-27T10:20:00Z");
  it("ends relative ranges at the next whole hour", () => {
    const w = windowOf({ page: "dashboard", range: "24h", sort: "newest" }, now);
    expect(w.to.toISOString()).toBe("2026-11-27T11:00:00.000Z");
    expect(w.from.toISOString()).toBe("2026-11-26T11:00:00.000Z");
    expect(w.group).toBe("hour");
    expect(windowOf({ page: "dashboard", range: "30d", sort: "newest" }, now).group).toBe("day");
    expect(windowOf({ page: "dashboard", range: "30d", sort: "newest", group: "hour" }, now).group).toBe("hour");
  });
  it("uses a custom window as given", () => {
    const w = windowOf(
      {
        page: "dashboard",
        range: "custom",
        sort: "newest",
        from: "2026-01-01T00:00:00.000Z",
        to: "2026-12-01T00:00:00.000Z",
      },
      now,
    );
    expect(w.from.toISOString()).toBe("2026-01-01T00:00:00.000Z");
    expect(w.group).toBe("week");
  });
  it("picks a readable grain", () => {
    expect(naturalGrain(7 * 24 * 3_600_000)).toBe("hour");
    expect(naturalGrain(8 * 24 * 3_600_000)).toBe("day");
    expect(naturalGrain(200 * 24 * 3_600_000)).toBe("week");
  });
});

describe("the jobs, runners and usage views' URLs", () => {
  const base = { range: "7d", sort: "newest" } as const;
  const roundTrip = (view: View) => {
    const [path, search = ""] = formatView(view).split("?");
    return parseView(path!, search);
  };

  it("round-trip each page's own state and leave defaults out", () => {
    const jobs: View = {
      ...base,
      page: "jobs",
      repo: "acme/api",
      jobSort: "failing",
      jobsPage: 3,
      job: { repo: "acme/api", workflow: "CI / build", job: "test (ubuntu, 20)" },
    };
    expect(formatView(jobs)).toBe(
      "/jobs?repo=acme%2Fapi&order=failing&p=3&job_repo=acme%2Fapi&job_workflow=CI+%2F+build&job=test+%28ubuntu%2C+20%29",
    );
    expect(roundTrip(jobs)).toEqual(jobs);
    expect(formatView({ ...base, page: "jobs", jobSort: "slowest", jobsPage: 1 })).toBe("/jobs");
    const runners: View = { ...base, page: "runners", labels: "gpu,self-hosted" };
    expect(formatView(runners)).toBe("/runners?labels=gpu%2Cself-hosted");
    expect(roundTrip(runners)).toEqual(runners);
    const usage: View = { ...base, page: "usage", usageBy: "labels" };
    expect(formatView(usage)).toBe("/usage?by=labels");
    expect(roundTrip(usage)).toEqual(usage);
    expect(formatView({ ...base, page: "usage", usageBy: "repo" })).toBe("/usage");
  });

  it("round-trip the tests view's ranking, page, search and open test", () => {
    const tests: View = {
      ...base,
      page: "tests",
      repo: "acme/api",
      testRank: "failing",
      testsPage: 2,
      testSearch: "login flow",
      test: { id: 42, repo: "acme/api" },
    };
    expect(formatView(tests)).toBe("/tests?repo=acme%2Fapi&p=2&rank=failing&q=login+flow&test=42&test_repo=acme%2Fapi");
    expect(roundTrip(tests)).toEqual(tests);
    expect(formatView({ ...base, page: "tests", testRank: "flaky", testsPage: 1 })).toBe("/tests");
    // `p` is the page of the list on screen: the tests' here, the jobs' on the jobs page.
    expect(parseView("/tests", "p=3")).toMatchObject({ testsPage: 3 });
    expect(parseView("/tests", "p=3").jobsPage).toBeUndefined();
    expect(parseView("/tests", "test=x&test_repo=a").test).toBeUndefined();
    expect(parseView("/tests", "test=42").test).toBeUndefined();
    expect(parseView("/tests", "rank=random").testRank).toBeUndefined();
  });

  it("go back to the first page of tests when the filters, the ranking or the search change", () => {
    const view: View = { ...base, page: "tests", testsPage: 3 };
    expect(withFilter(view, { testRank: "slowest" }).testsPage).toBeUndefined();
    expect(withFilter(view, { testSearch: "login" }).testsPage).toBeUndefined();
    expect(withFilter(view, { branch: "main" }).testsPage).toBeUndefined();
    expect(withFilter(view, { test: { id: 1, repo: "a" } }).testsPage).toBe(3);
    // Another page leaves the open test behind, unless it opens one (the run panel's Tests tab does).
    const test = { id: 7, repo: "acme/api" };
    expect(withFilter({ ...view, test }, { page: "jobs" })).toEqual({ ...base, page: "jobs" });
    expect(withFilter({ ...base, page: "jobs", run: "r1" }, { page: "tests", test })).toEqual({
      ...base,
      page: "tests",
      test,
    });
  });

  it("round-trip the delivery view's service, environment, environments shown and open deployment", () => {
    const delivery: View = {
      ...base,
      page: "delivery",
      service: "payments api",
      environment: "prod-eu",
      envs: "all",
      deployment: 42,
    };
    expect(formatView(delivery)).toBe("/delivery?service=payments+api&env=prod-eu&envs=all&deployment=42");
    expect(roundTrip(delivery)).toEqual(delivery);
    expect(parseView("/delivery", "deployment=x&envs=some")).toEqual({ ...base, page: "delivery" });
    // Another page leaves the open deployment behind, and keeps the service.
    expect(withFilter(delivery, { page: "dashboard" })).toEqual({
      ...base,
      page: "dashboard",
      service: "payments api",
      environment: "prod-eu",
      envs: "all",
    });
  });

  it("keep the pool of jobs that named no label, and drop half a job or a bad page", () => {
    expect(parseView("/runners", "labels=").labels).toBe("");
    expect(formatView({ ...base, page: "runners", labels: "" })).toBe("/runners?labels=");
    expect(parseView("/runners", "").labels).toBeUndefined();
    expect(parseView("/jobs", "job=test&job_repo=acme%2Fapi").job).toBeUndefined();
    expect(parseView("/jobs", "p=0").jobsPage).toBeUndefined();
    expect(parseView("/jobs", "p=2.5").jobsPage).toBeUndefined();
    expect(parseView("/jobs", "order=random").jobSort).toBeUndefined();
    expect(parseView("/usage", "by=planet").usageBy).toBeUndefined();
    expect(parseView("/nowhere", "").page).toBe("dashboard");
    expect(parseView("/usage/", "").page).toBe("usage");
  });

  it("go back to the first page of jobs when the filters or the order change", () => {
    const view: View = { ...base, page: "jobs", jobsPage: 4 };
    expect(withFilter(view, { repo: "acme/web" }).jobsPage).toBeUndefined();
    expect(withFilter(view, { jobSort: "queue" }).jobsPage).toBeUndefined();
    expect(withFilter(view, { range: "30d" }).jobsPage).toBeUndefined();
    expect(withFilter(view, { jobsPage: 5 }).jobsPage).toBe(5);
    // Choosing a job keeps the page it is on.
    expect(withFilter(view, { job: { repo: "a", workflow: "b", job: "c" } }).jobsPage).toBe(4);
  });

  it("leave a page's selection behind on another page, and keep the filters", () => {
    const view: View = {
      ...base,
      page: "jobs",
      repo: "acme/api",
      run: "r1",
      job: { repo: "acme/api", workflow: "ci", job: "test" },
      jobsPage: 2,
      labels: "gpu",
    };
    expect(withFilter(view, { page: "runners" })).toEqual({ ...base, page: "runners", repo: "acme/api" });
    // Unless the patch sets them: the waiting list opens a job on the jobs page.
    const job = { repo: "acme/api", workflow: "nightly", job: "train" };
    expect(withFilter({ ...base, page: "runners", labels: "gpu" }, { page: "jobs", job })).toEqual({
      ...base,
      page: "jobs",
      job,
    });
  });
});
