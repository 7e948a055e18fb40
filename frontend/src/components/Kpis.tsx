// The KPI cards: each value with its change against the previous period and a sparkline.
import { useEffect } from "react";
import type { Metrics } from "../api/client";
import { kpisOf, sparkPath } from "../lib/kpis";
import { DeltaText } from "./common";

/** Marks the first paint with data (`performance.getEntriesByName("cicd:first-data")`). */
function useFirstDataMark() {
  useEffect(() => {
    if (performance.getEntriesByName("cicd:first-data").length === 0) performance.mark("cicd:first-data");
  }, []);
}

export function Kpis({ metrics }: { metrics: Metrics }) {
  useFirstDataMark();
  return (
    <section className="kpis key-figures" aria-label="Key figures">
      {kpisOf(metrics).map((k) => (
        <article className="card kpi" key={k.label} aria-label={k.label}>
          <span className="label" title={k.hint}>
            {k.label}
          </span>
          <span className="value" data-testid={`kpi-${k.label}`}>
            {k.value}
          </span>
          <DeltaText delta={k.delta} against={k.against} />
          {k.series && <Sparkline values={k.series} label={`${k.label} over the period`} />}
        </article>
      ))}
    </section>
  );
}

export function Sparkline({ values, label }: { values: (number | null)[]; label: string }) {
  const d = sparkPath(values, 200, 32);
  return (
    <svg className="spark" viewBox="0 0 200 32" preserveAspectRatio="none" role="img" aria-label={label}>
      {d && <path className="line" d={d} vectorEffect="non-scaling-stroke" />}
    </svg>
  );
}
