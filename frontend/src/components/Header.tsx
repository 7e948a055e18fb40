// Title, navigation, environment, time zone, theme, refresh, last update and the live indicator.
import { useIsFetching, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useConfig } from "../api/hooks";
import type { StreamState } from "../api/stream";
import { formatTime, zoneNames } from "../lib/format";
import { prefs, useZone, type Theme } from "../lib/prefs";
import type { View } from "../lib/url";
import { useAuth } from "./Auth";

const THEMES: Theme[] = ["system", "light", "dark"];

export function Header({ view, onView, live, updatedAt, theme, onTheme }: {
  view: View;
  onView: (patch: Partial<View>, replace?: boolean) => void;
  live: StreamState;
  updatedAt: number | null;
  theme: Theme;
  onTheme: (t: Theme) => void;
}) {
  const zone = useZone();
  const config = useConfig();
  const client = useQueryClient();
  const fetching = useIsFetching() > 0;
  const { token, signOut, ask } = useAuth();
  // ~400 zones: rendered once the selector is first used, to keep the first render light.
  const [zonesShown, setZonesShown] = useState(false);
  const zones = useMemo(() => (zonesShown ? zoneNames() : ["local", "UTC"]), [zonesShown]);
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
        <a href={`/${location.search}`} aria-current={view.page === "dashboard" ? "page" : undefined}
          onClick={(e) => { e.preventDefault(); onView({ page: "dashboard" }); }}>
          Dashboard
        </a>
        <a href={`/settings${location.search}`} aria-current={view.page === "settings" ? "page" : undefined}
          onClick={(e) => { e.preventDefault(); onView({ page: "settings", run: undefined }); }}>
          Settings
        </a>
      </nav>
      <span className="spacer" />
      <span className={`live ${live === "live" ? "live-on" : live === "offline" || live === "error" ? "live-off" : ""}`} role="status"
        title={live === "live" ? "Receiving live updates" : live === "connecting" ? "Connecting" : "Live updates disconnected; reconnecting"}>
        {live === "live" ? "Live" : live === "offline" ? "Offline" : live === "error" ? "Not live" : "Connecting"}
      </span>
      {updatedAt && (
        <span className="muted" title="When the figures were last loaded">
          Updated {formatTime(new Date(updatedAt), zone, "time")}
        </span>
      )}
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
            <option key={z} value={z}>{z === "local" ? `Local (${Intl.DateTimeFormat().resolvedOptions().timeZone})` : z}</option>
          ))}
        </select>
      </label>
      <button type="button" className="btn" aria-label={`Theme: ${theme}. Change theme`}
        onClick={() => onTheme(THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length]!)}>
        {theme === "dark" ? "☾ Dark" : theme === "light" ? "☀ Light" : "◐ Auto"}
      </button>
      <button type="button" className="btn" aria-label="Refresh" disabled={fetching}
        onClick={() => void client.invalidateQueries()}>
        ⟳ {fetching ? "Refreshing" : "Refresh"}
      </button>
      {token ? (
        <button type="button" className="btn ghost" onClick={signOut} title="Forget the API token of this tab">
          Sign out
        </button>
      ) : (
        <button type="button" className="btn ghost" onClick={() => void ask("Enter an API token (admin for settings, read when reads are not public).")}>
          Token…
        </button>
      )}
    </header>
  );
}
