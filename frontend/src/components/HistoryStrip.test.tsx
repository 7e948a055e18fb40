import { fireEvent, render, screen, within } from "@testing-library/react";
import { expect, it, vi } from "vitest";
import type { Schemas } from "../api/client";
import { ZoneContext } from "../lib/prefs";
import { HistoryStrip } from "./HistoryStrip";

const entry = (run: string, status: Schemas["TestStatus"], at: string, flaky = false): Schemas["HistoryEntry"] => ({
  run_id: run,
  repo: "acme/api",
  commit: run.slice(1).repeat(12),
  run_at: at,
  job: "",
  status,
  attempts: 1,
  flaky_commit: flaky,
});

/** Newest first, as the API answers. */
const results = [
  entry("r4", "error", "2026-11-27T12:00:00Z"),
  entry("r3", "flaky", "2026-11-27T11:00:00Z", true),
  entry("r2", "skipped", "2026-11-27T10:00:00Z"),
  entry("r1", "passed", "2026-11-26T09:00:00Z"),
];

function show(onOpenRun = vi.fn()) {
  render(
    <ZoneContext.Provider value="UTC">
      <HistoryStrip results={results} name="test_login" onOpenRun={onOpenRun} />
    </ZoneContext.Provider>,
  );
  return onOpenRun;
}

it("draws a cell per result, oldest left, with its status as a glyph, a colour and words", () => {
  show();
  const strip = screen.getByRole("list", { name: "Results of test_login, oldest first" });
  const cells = within(strip).getAllByRole("button");
  expect(cells.map((c) => [c.dataset.status, c.textContent])).toEqual([
    ["passed", "✓"],
    ["skipped", "–"],
    ["flaky", "~"],
    ["error", "!"],
  ]);
  // Colour is the class; the words are the label (the glyph is hidden from assistive technology).
  expect(cells[2]!.className).toBe("history-cell flaky flaky-commit");
  expect(cells[2]!.getAttribute("aria-label")).toBe(
    "flaky · commit 3333333 · 27 Nov 2026, 11:00:00 UTC · flaky on this commit. Open run r3",
  );
  expect(cells[0]!.className).toBe("history-cell passed");
  // The strip's ends are dated, and the legend names every status and the flaky mark.
  expect(screen.getByText("26 Nov, 09:00")).toBeTruthy();
  expect(screen.getByText("27 Nov, 12:00")).toBeTruthy();
  const legend = screen.getByRole("list", { name: "Legend" });
  expect(
    within(legend)
      .getAllByRole("listitem")
      .map((li) => li.textContent?.trim()),
  ).toEqual(["✕ failed", "! error", "~ flaky", "– skipped", "✓ passed", "marked: flaky on that commit"]);
});

it("is one tab stop, walked with the arrow keys, Home and End; a cell opens its run", () => {
  const onOpenRun = show();
  const cells = within(screen.getByRole("list", { name: /Results of/ })).getAllByRole("button");
  // The newest takes focus first.
  expect(cells.map((c) => c.tabIndex)).toEqual([-1, -1, -1, 0]);
  cells[3]!.focus();
  fireEvent.keyDown(cells[3]!, { key: "ArrowLeft" });
  expect(document.activeElement).toBe(cells[2]);
  expect(cells.map((c) => c.tabIndex)).toEqual([-1, -1, 0, -1]);
  fireEvent.keyDown(cells[2]!, { key: "Home" });
  expect(document.activeElement).toBe(cells[0]);
  fireEvent.keyDown(cells[0]!, { key: "ArrowLeft" });
  expect(document.activeElement).toBe(cells[0]);
  fireEvent.keyDown(cells[0]!, { key: "End" });
  expect(document.activeElement).toBe(cells[3]);
  fireEvent.click(cells[1]!);
  expect(onOpenRun).toHaveBeenCalledWith("r2");
});
