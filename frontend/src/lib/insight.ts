// The jobs, runners and usage views' arithmetic and wording: label sets, minutes and money, the
// longest waits, the price table's form. Pure functions, unit-tested without a browser.
import type { Schemas } from "../api/client";
import type { UsageGroup } from "./url";

type RunnerPool = Schemas["RunnerPool"];
type WaitingJob = Schemas["WaitingJob"];
type UsageRow = Schemas["UsageRow"];

/** A label set as the API's `labels` parameter takes it: its labels joined by commas. */
export function labelsParam(labels: readonly string[]): string {
  return labels.join(",");
}

/** A label set as the page shows it: "gpu, self-hosted", or "no labels" for jobs that named none. */
export function labelsText(labels: readonly string[]): string {
  return labels.length === 0 ? "no labels" : labels.join(", ");
}

/** A number with at most one decimal: 3, 2.5, 1,234. */
export function formatNumber(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return "—";
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: Math.abs(n) < 100 ? 1 : 0 }).format(n);
}

/** Minutes: "0.5 min", "42 min", "1,234 min". */
export function formatMinutes(minutes: number | null | undefined): string {
  if (minutes == null || !Number.isFinite(minutes)) return "—";
  return `${formatNumber(minutes)} min`;
}

const moneyFormats = new Map<string, Intl.NumberFormat | null>();

function moneyFormat(currency: string, small: boolean): Intl.NumberFormat | null {
  const key = `${currency}|${small}`;
  if (!moneyFormats.has(key)) {
    let format: Intl.NumberFormat | null = null;
    // ISO 4217 codes get their symbol; anything else ("credits") is written after the amount.
    if (/^[A-Z]{3}$/.test(currency)) {
      try {
        format = new Intl.NumberFormat("en-US", {
          style: "currency",
          currency,
          minimumFractionDigits: 2,
          maximumFractionDigits: small ? 4 : 2,
        });
      } catch {
        format = null;
      }
    }
    moneyFormats.set(key, format);
  }
  return moneyFormats.get(key) ?? null;
}

/** A cost: "$12.40", "$0.0160" (under 1, to the price table's precision), "12.40 credits". */
export function formatMoney(amount: number | null | undefined, currency: string): string {
  if (amount == null || !Number.isFinite(amount)) return "—";
  const small = amount !== 0 && Math.abs(amount) < 1;
  const format = moneyFormat(currency, small);
  if (format) return format.format(amount);
  const digits = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: small ? 4 : 2 });
  return `${digits.format(amount)} ${currency}`;
}

/** What a usage row is: its repository, its workflow (with the repository), or its label set. */
export function usageGroupName(row: Pick<UsageRow, "repo" | "workflow" | "labels">, by: UsageGroup): string {
  if (by === "labels") return labelsText(row.labels ?? []);
  if (by === "workflow") return `${row.repo ?? "?"} · ${row.workflow ?? "?"}`;
  return row.repo ?? "?";
}

/** A job waiting for a runner, with the label set it waits for. */
export interface Waiting extends WaitingJob {
  labels: string[];
}

/** The job waiting longest in each pool, longest first. */
export function waitingLongest(pools: readonly RunnerPool[]): Waiting[] {
  return pools
    .flatMap((p) => (p.oldest_queued ? [{ ...p.oldest_queued, labels: p.labels }] : []))
    .sort((a, b) => Date.parse(a.queued_at) - Date.parse(b.queued_at));
}

/** Seconds a job has waited at `now` (its `queued_at`; the server's figure if the clocks disagree). */
export function waitedSeconds(job: Pick<WaitingJob, "queued_at" | "waiting_seconds">, now: number): number {
  const since = (now - Date.parse(job.queued_at)) / 1000;
  return Number.isFinite(since) && since >= 0 ? Math.max(since, job.waiting_seconds) : job.waiting_seconds;
}

/** The label set whose charts the runners view shows: the URL's, else the busiest pool's. */
export function selectedLabels(pools: readonly RunnerPool[], fromUrl: string | undefined): string | undefined {
  if (fromUrl !== undefined) return fromUrl;
  const first = pools[0];
  return first ? labelsParam(first.labels) : undefined;
}

/** One row of the price table's form: what was typed. */
export interface PriceRow {
  label: string;
  price: string;
}

/** The price table as form rows, sorted by label. */
export function priceRows(prices: Record<string, number> | undefined): PriceRow[] {
  return Object.entries(prices ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, price]) => ({ label, price: String(price) }));
}

/** A label as jobs' labels are stored: trimmed and in lower case. */
export function normalizeLabel(label: string): string {
  return label.trim().toLowerCase();
}

/**
 * The price table the rows describe, or what is wrong with each row (by index): a label is one
 * label (no commas), listed once; a price is a number of at least 0. Blank rows are left out.
 */
export function pricesOf(
  rows: readonly PriceRow[],
): { prices: Record<string, number>; errors: null } | { prices: null; errors: Record<number, string> } {
  const prices: Record<string, number> = {};
  const errors: Record<number, string> = {};
  const seen = new Map<string, number>();
  rows.forEach((row, i) => {
    const label = normalizeLabel(row.label);
    const text = row.price.trim();
    if (!label && !text) return;
    if (!label) {
      errors[i] = "Name the label this price is for.";
      return;
    }
    if (label.includes(",")) {
      errors[i] = "One label per row: commas separate labels.";
      return;
    }
    if (seen.has(label)) {
      errors[i] = `“${label}” is already priced in row ${seen.get(label)! + 1}.`;
      return;
    }
    const price = Number(text);
    if (!text || !Number.isFinite(price) || price < 0) {
      errors[i] = "The price per minute is a number of at least 0.";
      return;
    }
    seen.set(label, i);
    prices[label] = price;
  });
  return Object.keys(errors).length > 0 ? { prices: null, errors } : { prices, errors: null };
}

/** Whether two price tables are the same. */
export function samePrices(a: Record<string, number> | undefined, b: Record<string, number> | undefined): boolean {
  const ea = Object.entries(a ?? {});
  const eb = b ?? {};
  return ea.length === Object.keys(eb).length && ea.every(([k, v]) => eb[k] === v);
}

/** The grain of a sparkline over a window: about 7 to 48 points whatever its length. */
export function sparkGrain(spanMs: number): "hour" | "day" | "week" {
  const hours = spanMs / 3_600_000;
  if (hours <= 48) return "hour";
  if (hours <= 24 * 90) return "day";
  return "week";
}
