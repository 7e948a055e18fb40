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
