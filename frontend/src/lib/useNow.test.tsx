import { act, render, screen } from "@testing-library/react";
import { afterEach, expect, it, vi } from "vitest";
import { formatAgo } from "./format";
import { useNow } from "./useNow";

afterEach(() => vi.useRealTimers());

function Since({ at }: { at: string }) {
  return <span data-testid="ago">{formatAgo(at, new Date(useNow()))}</span>;
}

it("relative times re-render as the clock ticks, every 30 s", () => {
  vi.useFakeTimers({ now: new Date("2026-11-27T12:00:00Z") });
  render(<Since at="2026-11-27T11:59:50Z" />);
  expect(screen.getByTestId("ago").textContent).toBe("just now");
  act(() => void vi.advanceTimersByTime(60_000));
  expect(screen.getByTestId("ago").textContent).toBe("1 min ago");
  act(() => void vi.advanceTimersByTime(4 * 60_000));
  expect(screen.getByTestId("ago").textContent).toBe("5 min ago");
});
