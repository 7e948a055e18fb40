import { act, fireEvent, render, screen } from "@testing-library/react";
import { useRef } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { copyText } from "../lib/clipboard";
import { CopyButton } from "./common";

const original = Object.getOwnPropertyDescriptor(navigator, "clipboard");

function setClipboard(value: unknown) {
  Object.defineProperty(navigator, "clipboard", { value, configurable: true });
}

afterEach(() => {
  if (original) Object.defineProperty(navigator, "clipboard", original);
  else delete (navigator as { clipboard?: unknown }).clipboard;
  delete (document as { execCommand?: unknown }).execCommand;
  vi.restoreAllMocks();
});

function execCommand(result: boolean | "throw") {
  const fn = vi.fn((_cmd: string) => {
    if (result === "throw") throw new Error("not allowed");
    // What a browser copies: the selection, i.e. the text area's selected text.
    const area = document.activeElement as HTMLTextAreaElement;
    copied.push(area.value.slice(area.selectionStart, area.selectionEnd));
    return result;
  });
  (document as { execCommand?: unknown }).execCommand = fn;
  return fn;
}
let copied: string[] = [];

describe("copying", () => {
  it("uses the Clipboard API when there is one", async () => {
    const writeText = vi.fn(async () => {});
    setClipboard({ writeText });
    const exec = execCommand(true);
    expect(await copyText("abc")).toBe(true);
    expect(writeText).toHaveBeenCalledWith("abc");
    expect(exec).not.toHaveBeenCalled();
  });

  it("falls back to a selection and the copy command without it (plain HTTP), and leaves nothing behind", async () => {
    setClipboard(undefined);
    copied = [];
    const exec = execCommand(true);
    const button = document.createElement("button");
    document.body.appendChild(button);
    button.focus();
    expect(await copyText("secret-token", button)).toBe(true);
    expect(exec).toHaveBeenCalledWith("copy");
    expect(copied).toEqual(["secret-token"]);
    expect(document.querySelector("textarea")).toBeNull();
    expect(document.activeElement).toBe(button);
    button.remove();
  });

  it("falls back when the Clipboard API refuses, and says false when nothing works", async () => {
    setClipboard({ writeText: vi.fn(() => Promise.reject(new DOMException("denied", "NotAllowedError"))) });
    copied = [];
    execCommand(true);
    expect(await copyText("x")).toBe(true);
    execCommand(false);
    expect(await copyText("x")).toBe(false);
    execCommand("throw");
    expect(await copyText("x")).toBe(false);
  });

  it("the button says Copied, or Select and copy with the text selected", async () => {
    setClipboard(undefined);
    function Secret() {
      const ref = useRef<HTMLElement>(null);
      return (
        <div>
          <code ref={ref}>cicd_abc</code>
          <CopyButton text="cicd_abc" target={ref} />
        </div>
      );
    }
    execCommand(true);
    render(<Secret />);
    await act(() => Promise.resolve(fireEvent.click(screen.getByRole("button", { name: "Copy" }))));
    expect(screen.getByRole("button", { name: "Copied" })).toBeTruthy();
    expect(screen.getByRole("status").textContent).toBe("Copied to the clipboard");

    execCommand(false);
    await act(() => Promise.resolve(fireEvent.click(screen.getByRole("button", { name: "Copied" }))));
    expect(screen.getByRole("button", { name: "Select and copy" })).toBeTruthy();
    expect(window.getSelection()?.toString()).toBe("cicd_abc");
  });
});
