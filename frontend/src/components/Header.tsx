// Title, navigation, environment, time zone, theme, refresh, last update and the live indicator.
import { useQueryClient, type QueryKey } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useAuth } from "../api/auth";
import { useConfig, useDataUpdatedAt } from "../api/hooks";
import type { StreamState } from "../api/stream";
import { formatTime, zoneNames } from "../lib/format";
import { prefs, useZone, type Theme } from "../lib/prefs";
import { formatView, withFilter, type Page, type View } from "../lib/url";
import { browserZone } from "../lib/zone";

const THEMES: Theme[] = ["system", "light", "dark"];

const PAGES: [Page, string][] = [
  ["dashboard", "Dashboard"],
  ["jobs", "Jobs"],
  ["runners", "Runners"],
  ["usage", "Usage"],
  ["tests", "Tests"],
  ["delivery", "Delivery"],
  ["settings", "Settings"],
];

const LIVE: Record<StreamState, { text: string; title: string; tone: string }> = {
  live: { text: "Live", title: "Receiving live updates", tone: "live-on" },
  stale: {
    text: "Not live",
    title:
      "Connected, but the server is not receiving changes right now: figures may be behind. It catches up by itself.",
    tone: "live-warn",
  },
  connecting: { text: "Connecting", title: "Connecting to live updates", tone: "" },
  offline: { text: "Offline", title: "Live updates disconnected; reconnecting", tone: "live-off" },
  error: { text: "Not live", title: "The server refused live updates; retrying", tone: "live-off" },
};

/** "Updated 14:03:09": when the figures on screen were last loaded, following the query as it refetches. */
export function UpdatedAt({ queryKey }: { queryKey: QueryKey }) {
  const zone = useZone();
  const at = useDataUpdatedAt(queryKey);
  if (!at) return null;
  return (
    <span className="muted" title="When the figures were last loaded" data-testid="updated-at">
      Updated {formatTime(new Date(at), zone, "time")}
    </span>
  );
}

export function Header({
  view,
  onView,
  live,
  updatedKey,
  theme,
  onTheme,
}: {
  view: View;
  onView: (patch: Partial<View>, replace?: boolean) => void;
  live: StreamState;
  /** The query whose last load "Updated" shows (the metrics of the view). */
  updatedKey: QueryKey;
  theme: Theme;
  onTheme: (t: Theme) => void;
}) {
  const zone = useZone();
  const config = useConfig();
  const client = useQueryClient();
  // Disabled only while a refresh the user asked for runs, not for every background fetch.
  const [refreshing, setRefreshing] = useState(false);
  const { token, signOut, ask } = useAuth();
  // ~400 zones: rendered once the selector is first used, to keep the first render light.
  const [zonesShown, setZonesShown] = useState(false);
  const zones = useMemo(() => (zonesShown ? zoneNames() : ["local", "UTC"]), [zonesShown]);
  const refresh = async () => {
    setRefreshing(true);
    try {
      await client.invalidateQueries();
    } finally {
      setRefreshing(false);
    }
  };
  const env = config.data?.environment;
  const envClass = env === "production" || env === "prod" ? "production" : env === "staging" ? "staging" : "other";

  return (
    <header className="top">
      <h1>
        <img src="/favicon.svg" alt="" width="22" height="22" />
        ci-cd-monitor
      </h1>
      {env && (
        <span className={`env ${envClass}`} title={`Environment: ${env}, version ${config.data?.version}`}>
          {env}
        </span>
      )}
      <nav aria-label="Pages" className="row">
        {PAGES.map(([page, label]) => (
          <a
            key={page}
            href={formatView(withFilter(view, { page }))}
            aria-current={view.page === page ? "page" : undefined}
            onClick={(e) => {
              e.preventDefault();
              onView({ page });
            }}
          >
            {label}
          </a>
        ))}
      </nav>
      <span className="spacer" />
      {/* One group: on a narrow screen it wraps to a line of its own, as a whole. */}
      <div className="row header-tools">
        <span className={`live ${LIVE[live].tone}`} role="status" title={LIVE[live].title}>
          {LIVE[live].text}
        </span>
        <UpdatedAt queryKey={updatedKey} />
        <label className="row">
          <span className="sr-only">Time zone</span>
          <select
            aria-label="Time zone"
            value={zone}
            onFocus={() => setZonesShown(true)}
            onPointerDown={() => setZonesShown(true)}
            onChange={(e) => {
              prefs.setZone(e.target.value);
              onView({ tz: e.target.value === "local" ? undefined : e.target.value }, true);
            }}
          >
            {!zones.includes(zone) && <option value={zone}>{zone}</option>}
            {zones.map((z) => (
              <option key={z} value={z}>
                {z === "local" ? `Local (${browserZone()})` : z}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          className="btn"
          aria-label={`Theme: ${theme}. Change theme`}
          onClick={() => onTheme(THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length]!)}
        >
          {theme === "dark" ? "☾ Dark" : theme === "light" ? "☀ Light" : "◐ Auto"}
        </button>
        <button type="button" className="btn" aria-label="Refresh" disabled={refreshing} onClick={() => void refresh()}>
          ⟳ {refreshing ? "Refreshing" : "Refresh"}
        </button>
        {token ? (
          <button type="button" className="btn ghost" onClick={signOut} title="Forget the API token of this tab">
            Sign out
          </button>
        ) : (
          <button
            type="button"
            className="btn ghost"
            onClick={() => void ask("Enter an API token (admin for settings, read when reads are not public).")}
          >
            Token…
          </button>
        )}
      </div>
    </header>
  );
}
