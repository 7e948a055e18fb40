// The charts' arithmetic: stacked series, the keyboard cursor and the peak for the text summary.

/** Stacks series bottom-up: each is drawn as the running total, tallest first. */
export function stack(series: (number | null)[][]): number[][] {
  const totals: number[][] = [];
  series.forEach((values, si) => {
    totals.push(values.map((v, i) => (v ?? 0) + (si > 0 ? totals[si - 1]![i]! : 0)));
  });
  return totals;
}

/** The index the arrow keys move a chart's cursor to (null: a key the chart does not use). */
export function keyStep(key: string, idx: number | null, count: number): number | null {
  if (count === 0) return null;
  const last = count - 1;
  const page = Math.max(1, Math.round(count / 10));
  switch (key) {
    case "ArrowRight":
      return idx == null ? 0 : Math.min(last, idx + 1);
    case "ArrowLeft":
      return idx == null ? last : Math.max(0, idx - 1);
    case "PageDown":
      return idx == null ? 0 : Math.min(last, idx + page);
    case "PageUp":
      return idx == null ? last : Math.max(0, idx - page);
    case "Home":
      return 0;
    case "End":
      return last;
    default:
      return null;
  }
}

/** The period with the largest value of a series, for the text summary. */
export function peak(times: number[], values: (number | null)[]): { at: number; value: number } | null {
  let best: { at: number; value: number } | null = null;
  values.forEach((v, i) => {
    if (v != null && Number.isFinite(v) && v > 0 && (!best || v > best.value)) best = { at: times[i]!, value: v };
  });
  return best;
}
