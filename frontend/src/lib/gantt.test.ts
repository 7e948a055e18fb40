import { describe, expect, it } from "vitest";
import { criticalPath, extent, percent, spanOf, ticks, type Span, type Timed } from "./gantt";

const T0 = Date.parse("2026-11-27T10:00:00Z");
/** An ISO time `s` seconds after T0. */
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const NOW = T0 + 3_600_000;

/** A finished job queued at `q`, started at `s`, finished at `f` (seconds after T0). */
function job(q: number | null, s: number | null, f: number | null, status: Timed["status"] = "success"): Span {
  return spanOf(
    {
      status,
      queued_at: q == null ? null : at(q),
      started_at: s == null ? null : at(s),
      finished_at: f == null ? null : at(f),
    },
    NOW,
  );
}

describe("spanOf", () => {
  it("reads a finished job's times", () => {
    expect(job(0, 10, 70)).toEqual({ queued: T0, started: T0 + 10_000, end: T0 + 70_000, open: false });
  });

  it("draws a running job on to now", () => {
    expect(job(0, 10, null, "running")).toEqual({ queued: T0, started: T0 + 10_000, end: NOW, open: true });
  });

  it("draws a job still queued (no start) on to now", () => {
    expect(job(5, null, null, "queued")).toEqual({ queued: T0 + 5_000, started: null, end: NOW, open: true });
  });

  it("ends a finished job without a finish time at its last known time, not now", () => {
    expect(job(0, 10, null, "cancelled")).toEqual({ queued: T0, started: T0 + 10_000, end: T0 + 10_000, open: false });
    expect(job(0, null, null, "skipped")).toEqual({ queued: T0, started: null, end: T0, open: false });
  });

  it("has no span for a job without any time", () => {
    expect(job(null, null, null, "running")).toEqual({ queued: null, started: null, end: null, open: false });
    expect(spanOf({ status: "success", queued_at: "not a time" }, NOW).queued).toBeNull();
  });

  it("puts a start or finish before the queue time (clock skew) back in order", () => {
    expect(job(10, 5, 3)).toEqual({ queued: T0 + 10_000, started: T0 + 10_000, end: T0 + 10_000, open: false });
  });

  it("never ends a running job before it started (a start in the future)", () => {
    const s = spanOf({ status: "running", started_at: new Date(NOW + 5_000).toISOString() }, NOW);
    expect(s.end).toBe(NOW + 5_000);
  });
});

describe("criticalPath", () => {
  it("is empty without jobs, or without times", () => {
    expect(criticalPath([])).toEqual([]);
    expect(criticalPath([job(null, null, null), job(null, null, null)])).toEqual([]);
  });

  it("is the one job of a single-job run", () => {
    expect(criticalPath([job(0, 5, 60)])).toEqual([0]);
  });

  it("takes the longest of parallel jobs alone", () => {
    // Three jobs queued together: none waited for another.
    expect(criticalPath([job(0, 2, 40), job(0, 3, 120), job(0, 1, 90)])).toEqual([1]);
  });

  it("follows a sequential chain back to its first job, first first", () => {
    // build → test → deploy, each queued when the previous finished.
    const spans = [job(0, 5, 60), job(60, 62, 200), job(200, 201, 260)];
    expect(criticalPath(spans)).toEqual([0, 1, 2]);
  });

  it("picks the parallel job that finished last before the next was queued (a fan-in)", () => {
    // lint (short) and build (long) in parallel, then test after both; docs on its own.
    const spans = [
      job(0, 1, 30), // lint
      job(0, 2, 100), // build
      job(101, 105, 300), // test: queued 1 s after build finished (within the tolerance)
      job(0, 1, 50), // docs
    ];
    expect(criticalPath(spans)).toEqual([1, 2]);
  });

  it("allows the tolerance for a finish stamped just after the next job's queue time", () => {
    const spans = [job(0, 1, 61.5), job(60, 62, 120)];
    expect(criticalPath(spans)).toEqual([0, 1]);
    // Beyond it, the first job was still running when the second was queued: not its predecessor.
    expect(criticalPath([job(0, 1, 65), job(60, 62, 120)])).toEqual([1]);
    expect(criticalPath([job(0, 1, 65), job(60, 62, 120)], 10_000)).toEqual([0, 1]);
  });

  it("does not chain jobs queued at the same time, even instant ones", () => {
    expect(criticalPath([job(10, 10, 10.5, "skipped"), job(10, 10, 10.5, "skipped")])).toEqual([0]);
  });

  it("ends with a job still running (it ends now), after the job it waited for", () => {
    const spans = [job(0, 5, 60), job(60, 61, null, "running"), job(0, 2, 3000)];
    expect(criticalPath(spans)).toEqual([0, 1]);
  });

  it("ends with a job still queued, which ends now", () => {
    const spans = [job(0, 5, 60), job(61, null, null, "queued")];
    expect(criticalPath(spans)).toEqual([0, 1]);
  });

  it("uses the start when the queue time is missing, and skips jobs without times", () => {
    const spans = [job(null, 0, 50), job(null, null, null), job(null, 51, 90)];
    expect(criticalPath(spans)).toEqual([0, 2]);
  });

  it("stops at a job with no queue or start time", () => {
    // Only a finish time: nothing says when it became ready.
    expect(criticalPath([job(0, 1, 10), job(null, null, 500)])).toEqual([1]);
  });

  it("breaks ties by the job that became ready first, then by order", () => {
    expect(criticalPath([job(10, 10, 100), job(0, 5, 100)])).toEqual([1]);
    expect(criticalPath([job(0, 5, 100), job(0, 5, 100)])).toEqual([0]);
  });

  it("walks a long chain without repeating a job", () => {
    const spans = Array.from({ length: 60 }, (_, i) => job(i * 10, i * 10 + 1, i * 10 + 10));
    expect(criticalPath(spans)).toEqual(spans.map((_, i) => i));
  });
});

describe("extent", () => {
  it("runs from the first time to the last", () => {
    expect(extent([job(5, 10, 70), job(0, 20, 40), job(null, null, null)])).toEqual({ from: T0, to: T0 + 70_000 });
  });

  it("is null without times", () => {
    expect(extent([])).toBeNull();
    expect(extent([job(null, null, null)])).toBeNull();
  });
});

describe("ticks", () => {
  it("uses round steps, at most max + 1 ticks, never past the end", () => {
    expect(ticks(60_000)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
    expect(ticks(250_000)).toEqual([0, 60_000, 120_000, 180_000, 240_000]);
    expect(ticks(3_000)).toEqual([0, 1_000, 2_000, 3_000]);
    for (const span of [1_000, 7_777, 95_000, 4_000_000, 90_000_000, 2_000_000_000]) {
      const t = ticks(span);
      expect(t.length, String(span)).toBeLessThanOrEqual(7);
      expect(t.length, String(span)).toBeGreaterThanOrEqual(2);
      expect(t[t.length - 1]!).toBeLessThanOrEqual(span);
    }
  });

  it("has only 0 for an empty span", () => {
    expect(ticks(0)).toEqual([0]);
    expect(ticks(Number.NaN)).toEqual([0]);
  });
});

describe("percent", () => {
  it("places a time on the scale, clamped", () => {
    expect(percent(T0 + 30_000, T0, 60_000)).toBe(50);
    expect(percent(T0 - 1, T0, 60_000)).toBe(0);
    expect(percent(T0 + 90_000, T0, 60_000)).toBe(100);
    expect(percent(T0, T0, 0)).toBe(0);
  });
});
