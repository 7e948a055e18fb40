import { afterEach, describe, expect, it, vi } from "vitest";
import { api, readAfter, tokenStore } from "./client";
import { openStream, reconnectDelay, stateAfter, type StreamState } from "./stream";

function sse(chunks: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      const enc = new TextEncoder();
      for (const chunk of chunks) c.enqueue(enc.encode(chunk));
      c.close();
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
  tokenStore.set(null);
  readAfter.value = "";
});

describe("read-after position", () => {
  it("keeps the highest WAL position the stream gave and sends it on reads", async () => {
    const fetch = vi.fn(() =>
      Promise.resolve(
        sse([
          'event: hello\ndata: {"live":true}\n\n',
          'id: 0/FFFFFFF0\nevent: run\ndata: {"id":"r1"}\n\n',
          'id: 1/10\nevent: run\ndata: {"id":"r2"}\n\n',
          'id: 0/20\nevent: run\ndata: {"id":"r0"}\n\n',
          'id: nonsense\nevent: run\ndata: {"id":"rx"}\n\n',
        ]),
      ),
    );
    vi.stubGlobal("fetch", fetch);
    const events: string[] = [];
    const stop = openStream({ onEvent: (e) => events.push(e), onState: () => {} });
    await vi.waitFor(() => expect(events.filter((e) => e === "run")).toHaveLength(4));
    stop();
    // 1/10 is past 0/FFFFFFF0 (the high half counts first); later lower or unreadable ones are not kept.
    expect(readAfter.value).toBe("1/10");
    const reads = vi.fn((_r: Request) =>
      Promise.resolve(new Response("{}", { headers: { "Content-Type": "application/json" } })),
    );
    vi.stubGlobal("fetch", reads);
    await api.GET("/api/filters");
    expect(reads.mock.calls[0]![0].headers.get("CICD-Read-After")).toBe("1/10");
  });
});

describe("reconnect delay", () => {
  it("doubles from the server's retry hint up to 30 s, with ±25% jitter", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => reconnectDelay(n, undefined, mid))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(reconnectDelay(0, 3000, mid)).toBe(3000);
    expect(reconnectDelay(0, 1000, () => 0)).toBe(750);
    expect(reconnectDelay(0, 1000, () => 0.999)).toBe(1250);
  });
});

describe("openStream", () => {
  it("delivers events split across chunks, sends the token, and reconnects when cut", async () => {
    tokenStore.set("cicd_read");
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(
        sse(['retry: 10\nevent: hello\ndata: {"live":true}\n\nevent: ru', 'n\ndata: {"id":"r1"}\n\n']),
      )
      .mockResolvedValueOnce(sse(['event: hello\ndata: {"live":true}\n\nevent: run\ndata: {"id":"r2"}\n\n']))
      .mockImplementation(() => new Promise(() => {}));
    vi.stubGlobal("fetch", fetch);
    const events: string[] = [];
    const states: StreamState[] = [];
    const stop = openStream({ onEvent: (e, d) => events.push(`${e} ${d}`), onState: (s) => states.push(s) });
    await vi.waitFor(
      () =>
        expect(events).toEqual(['hello {"live":true}', 'run {"id":"r1"}', 'hello {"live":true}', 'run {"id":"r2"}']),
      { timeout: 3000 },
    );
    stop();
    expect(states.slice(0, 3)).toEqual(["connecting", "live", "offline"]);
    expect(states).toContain("live");
    const init = fetch.mock.calls[0]![1] as RequestInit;
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer cicd_read");
  });

  it("tells an unreachable backend from one that refuses the stream", async () => {
    const states: StreamState[] = [];
    vi.stubGlobal(
      "fetch",
      vi
        .fn()
        .mockRejectedValueOnce(new TypeError("Failed to fetch"))
        .mockResolvedValueOnce(new Response("{}", { status: 401 }))
        .mockImplementation(() => new Promise(() => {})),
    );
    const stop = openStream({ onEvent: () => {}, onState: (s) => states.push(s) });
    await vi.waitFor(() => expect(states).toContain("error"), { timeout: 5000 });
    stop();
    expect(states).toEqual(["connecting", "offline", "connecting", "error"]);
  });

  it("reconnects at once with a new token, without going offline", async () => {
    // An open stream that ends, like fetch's, when its request is aborted.
    const fetch = vi.fn((_url: string, init: RequestInit) => {
      const body = new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('event: hello\ndata: {"live":true}\n\n'));
          init.signal!.addEventListener("abort", () => c.error(new DOMException("aborted", "AbortError")));
        },
      });
      return Promise.resolve(new Response(body, { headers: { "Content-Type": "text/event-stream" } }));
    });
    vi.stubGlobal("fetch", fetch);
    const states: StreamState[] = [];
    const stop = openStream({ onEvent: () => {}, onState: (s) => states.push(s) });
    await vi.waitFor(() => expect(states).toEqual(["connecting", "live"]));
    tokenStore.set("cicd_new");
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(2));
    await vi.waitFor(() => expect(states).toEqual(["connecting", "live", "connecting", "live"]));
    stop();
    const init = fetch.mock.calls[1]![1];
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer cicd_new");
  });

  it("says not live when the server's hello does, until the resync that follows recovery", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('event: hello\ndata: {"live":false}\n\n'));
        setTimeout(() => c.enqueue(new TextEncoder().encode('event: resync\ndata: {"reason":"reconnected"}\n\n')), 20);
      },
    });
    vi.stubGlobal(
      "fetch",
      vi
        .fn()
        .mockResolvedValueOnce(new Response(body))
        .mockImplementation(() => new Promise(() => {})),
    );
    const states: StreamState[] = [];
    const stop = openStream({ onEvent: () => {}, onState: (s) => states.push(s) });
    await vi.waitFor(() => expect(states).toEqual(["connecting", "stale", "live"]));
    stop();
  });
});

describe("stream state", () => {
  it("follows hello, resync and other events", () => {
    expect(stateAfter("connecting", "hello", '{"live":true}')).toBe("live");
    expect(stateAfter("connecting", "hello", '{"live":false}')).toBe("stale");
    expect(stateAfter("live", "hello", '{"live":false}')).toBe("stale");
    expect(stateAfter("stale", "run", "{}")).toBe("stale");
    expect(stateAfter("stale", "resync", '{"reason":"reconnected"}')).toBe("live");
    expect(stateAfter("connecting", "run", "{}")).toBe("live");
    expect(stateAfter("connecting", "hello", "not json")).toBe("live");
  });
});
