// Live updates: `GET /api/stream` (server-sent events). Read with fetch rather than EventSource
// so the token travels in the Authorization header, never in a URL; reconnects by itself.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { readAfter, tokenStore, type Schemas } from "./client";

/**
 * `live`: connected, and the server receives changes as they happen; `stale`: connected, but the
 * server says (`hello` with `live: false`) it is not receiving changes now — a `resync` follows when
 * it is again; `offline`: the backend cannot be reached (or its proxy says so); `error`: it answered
 * with an error.
 */
export type StreamState = "connecting" | "live" | "stale" | "offline" | "error";

/** The state a stream event moves a connected stream to (`hello` says whether the server is live). */
export function stateAfter(current: StreamState, event: string, data: string): StreamState {
  if (event === "hello") {
    try {
      return (JSON.parse(data) as Partial<Schemas["Hello"]>).live === false ? "stale" : "live";
    } catch {
      return "live";
    }
  }
  // A resync follows once a server that was not live is again; any other event means it is.
  if (current === "stale") return event === "resync" ? "live" : "stale";
  return "live";
}

export interface StreamHandlers {
  onEvent(event: string, data: string): void;
  onState(state: StreamState): void;
}

/** Delay before reconnect attempt `n` (0-based): 1 s doubling to 30 s, with jitter. */
export function reconnectDelay(n: number, serverRetryMs?: number, random = Math.random): number {
  const base = Math.min(30_000, (serverRetryMs ?? 1_000) * 2 ** Math.min(n, 5));
  return Math.round(base * (0.75 + random() * 0.5));
}

/** Starts streaming; the returned function stops it. */
export function openStream(handlers: StreamHandlers, url = "/api/stream"): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let retryMs: number | undefined;
  /** Set when the stream is cut on purpose (a new token): reconnect at once, without "offline". */
  let restart = false;
  /** A request or read loop is running (otherwise a reconnect timer is pending). */
  let active = false;

  const connect = async () => {
    if (stopped) return;
    active = true;
    handlers.onState("connecting");
    controller = new AbortController();
    let next: StreamState = "offline";
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      const token = tokenStore.get();
      if (token) headers.Authorization = `Bearer ${token}`;
      const response = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
      if (!response.ok || !response.body) {
        // 502–504 come from a proxy in front of a backend that is down.
        if (![502, 503, 504].includes(response.status)) next = "error";
        throw new Error(`stream answered ${response.status}`);
      }
      // Live once the server's `hello` (its first event) says so, not merely connected.
      let state: StreamState = "connecting";
      const parser = createParser({
        onEvent(message: EventSourceMessage) {
          const event = message.event ?? "message";
          if (message.id) readAfter.note(message.id);
          const next = stateAfter(state, event, message.data);
          if (next !== state) {
            state = next;
            if (next === "live") failures = 0;
            handlers.onState(next);
          }
          handlers.onEvent(event, message.data);
        },
        onRetry(ms: number) {
          retryMs = ms;
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      // Aborted, refused, or cut: reconnect below unless stopped.
    }
    active = false;
    if (stopped) return;
    if (restart) {
      restart = false;
      void connect();
      return;
    }
    handlers.onState(next);
    timer = setTimeout(() => void connect(), reconnectDelay(failures++, retryMs));
  };

  void connect();
  const reconnectNow = () => {
    if (stopped) return;
    if (active) {
      restart = true;
      controller?.abort();
    } else {
      clearTimeout(timer);
      void connect();
    }
  };
  const unsubscribe = tokenStore.subscribe(reconnectNow);
  return () => {
    stopped = true;
    unsubscribe();
    clearTimeout(timer);
    controller?.abort();
  };
}
