// Copying text: the Clipboard API where the browser offers it (HTTPS or localhost), otherwise the
// older selection + `document.execCommand("copy")`, which also works on plain HTTP (an internal
// host name). When both fail the caller says so and leaves the text selected for the user.

/**
 * Copies `text`; resolves true when it reached the clipboard. `near` is where the temporary text
 * area goes: next to the button, so it is inside the open modal dialog (outside one, the page is
 * inert and nothing there can be selected).
 */
export async function copyText(text: string, near?: Element | null): Promise<boolean> {
  const clipboard = typeof navigator !== "undefined" ? navigator.clipboard : undefined;
  if (clipboard?.writeText) {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      // Refused (no permission, not focused): try the older way.
    }
  }
  return copyWithSelection(text, near);
}

function copyWithSelection(text: string, near?: Element | null): boolean {
  const doc = document;
  const active = doc.activeElement as HTMLElement | null;
  const area = doc.createElement("textarea");
  area.value = text;
  area.readOnly = true;
  area.className = "offscreen";
  area.setAttribute("aria-hidden", "true");
  area.tabIndex = -1;
  (near?.parentElement ?? doc.body).appendChild(area);
  let ok = false;
  try {
    area.focus({ preventScroll: true });
    area.select();
    area.setSelectionRange(0, text.length);
    ok = typeof doc.execCommand === "function" && doc.execCommand("copy");
  } catch {
    ok = false;
  } finally {
    area.remove();
    active?.focus?.({ preventScroll: true });
  }
  return ok;
}

/** Selects an element's text, so the user can copy it by hand (Ctrl+C / ⌘C). */
export function selectContents(el: Element | null | undefined): void {
  if (!el) return;
  const selection = window.getSelection?.();
  if (!selection) return;
  const range = document.createRange();
  range.selectNodeContents(el);
  selection.removeAllRanges();
  selection.addRange(range);
}
