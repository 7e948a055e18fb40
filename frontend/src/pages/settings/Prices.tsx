// Runner prices: the price per minute of each runner label, and the currency, behind the cost
// figures of the jobs, runners and usage views. Saved with the other settings, which go back as
// they are.
import { useState } from "react";
import { useSaveSettings, useSettings } from "../../api/settings";
import { ErrorBox, Skeleton } from "../../components/common";
import { normalizeLabel, priceRows, pricesOf, samePrices, type PriceRow } from "../../lib/insight";

interface Form {
  rows: PriceRow[];
  currency: string;
}

const DEFAULT_CURRENCY = "USD";

export function Prices() {
  const settings = useSettings();
  const saved: Form | undefined = settings.data
    ? { rows: priceRows(settings.data.runner_prices), currency: settings.data.currency ?? DEFAULT_CURRENCY }
    : undefined;
  const [form, setForm] = useState<Form>(saved ?? { rows: [], currency: DEFAULT_CURRENCY });
  // The form starts over from the stored settings whenever they change (loaded, saved, refetched).
  const [shown, setShown] = useState(settings.data);
  if (shown !== settings.data) {
    setShown(settings.data);
    if (saved) setForm(saved);
  }
  const [tried, setTried] = useState(false);
  const save = useSaveSettings();
  const result = pricesOf(form.rows);
  const currency = form.currency.trim();
  const currencyError =
    currency.length < 1 || currency.length > 8 ? "The currency is 1 to 8 characters (USD, EUR, credits)." : null;
  const unchanged =
    !!settings.data &&
    result.prices !== null &&
    samePrices(result.prices, settings.data.runner_prices) &&
    currency === (settings.data.currency ?? DEFAULT_CURRENCY);
  const setRow = (i: number, patch: Partial<PriceRow>) =>
    setForm({ ...form, rows: form.rows.map((r, j) => (j === i ? { ...r, ...patch } : r)) });

  return (
    <section className="card" aria-labelledby="prices-title">
      <h2 id="prices-title">Runner prices</h2>
      {settings.isPending ? (
        <Skeleton lines={2} />
      ) : settings.isError ? (
        <ErrorBox error={settings.error} retry={() => void settings.refetch()} />
      ) : (
        <form
          className="col prices"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            setTried(true);
            if (result.prices === null || currencyError) return;
            // A replacement: the other settings (the retention policy) go back as they are.
            save.mutate({ ...settings.data, runner_prices: result.prices, currency });
          }}
        >
          <table className="grid price-table">
            <caption className="sr-only">Price per minute by runner label</caption>
            <thead>
              <tr>
                <th scope="col">Runner label</th>
                <th scope="col">Price per minute</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {form.rows.length === 0 && (
                <tr>
                  <td colSpan={3} className="muted">
                    No prices: every job costs 0. Add a label to price its minutes.
                  </td>
                </tr>
              )}
              {form.rows.map((row, i) => {
                const error = tried || row.label || row.price ? result.errors?.[i] : undefined;
                return (
                  <tr key={i}>
                    <td>
                      <input
                        type="text"
                        aria-label={`Label of row ${i + 1}`}
                        placeholder="ubuntu-latest"
                        spellCheck={false}
                        value={row.label}
                        aria-invalid={!!error || undefined}
                        aria-describedby={error ? `price-error-${i}` : undefined}
                        onChange={(e) => setRow(i, { label: e.target.value })}
                        onBlur={(e) => setRow(i, { label: normalizeLabel(e.target.value) })}
                      />
                    </td>
                    <td>
                      <input
                        type="number"
                        min={0}
                        step="any"
                        inputMode="decimal"
                        aria-label={`Price per minute of row ${i + 1}`}
                        placeholder="0.008"
                        value={row.price}
                        aria-invalid={!!error || undefined}
                        aria-describedby={error ? `price-error-${i}` : undefined}
                        onChange={(e) => setRow(i, { price: e.target.value })}
                      />
                      {error && (
                        <span id={`price-error-${i}`} className="field-error" role="alert">
                          {" "}
                          {error}
                        </span>
                      )}
                    </td>
                    <td className="actions">
                      <button
                        type="button"
                        className="btn small danger"
                        aria-label={`Remove ${row.label || `row ${i + 1}`}`}
                        onClick={() => setForm({ ...form, rows: form.rows.filter((_, j) => j !== i) })}
                      >
                        Remove
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <div className="row">
            <button
              type="button"
              className="btn"
              onClick={() => setForm({ ...form, rows: [...form.rows, { label: "", price: "" }] })}
            >
              + Add a label
            </button>
            <label className="field">
              Currency
              <input
                type="text"
                maxLength={8}
                value={form.currency}
                aria-invalid={(tried && !!currencyError) || undefined}
                onChange={(e) => setForm({ ...form, currency: e.target.value })}
              />
            </label>
            <button type="submit" className="btn primary" disabled={save.isPending || unchanged}>
              Save prices
            </button>
            {tried && currencyError && (
              <span className="field-error" role="alert">
                {currencyError}
              </span>
            )}
            {save.isSuccess && unchanged && (
              <span role="status" className="muted">
                Saved.
              </span>
            )}
          </div>
          <p className="muted">
            A job costs its minutes (GitHub: each job rounded up to a minute, before the OS multiplier) times the
            highest price among its labels; labels not listed cost 0. Labels are compared in lower case. Costs are
            estimates computed when they are read, so a new price applies to past jobs too.
          </p>
        </form>
      )}
      {save.isError && <ErrorBox error={save.error} />}
    </section>
  );
}
