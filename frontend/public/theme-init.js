// Sets the theme before the first paint, so dark-theme users see no light flash. A classic (blocking)
// script from the same origin, because the Content-Security-Policy allows no inline script. It reads
// what src/lib/prefs.ts writes; the app takes over from here.
(function () {
  var theme = null;
  try {
    theme = localStorage.getItem("cicd-monitor.theme");
  } catch {
    // Storage disabled: follow the system.
  }
  var dark =
    theme === "dark" ||
    (theme !== "light" && !!window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
