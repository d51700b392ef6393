// Server-sent events read with fetch() instead of EventSource.
//
// Why: EventSource cannot send an Authorization header, and putting the JWT in the URL
// leaks it into access logs and browser history. fetch() streams the response body, so we
// parse the text/event-stream format ourselves (WHATWG HTML, "Server-sent events",
// 9.2.6 "Interpreting an event stream") and send the token in the header like every other
// API call. Reconnection follows the spec too: wait `retry` ms, resend Last-Event-ID.

import { errorFromResponse, networkError, ApiError } from "./errors";

export interface SseEvent {
  /** The `event:` field; "message" when absent. */
  event: string;
  data: string;
  /** The last event ID seen on the stream so far ("" when none). */
  id: string;
  /** A `retry:` reconnection time in ms that arrived with this event, if any. */
  retry?: number;
}

/** Incremental text/event-stream parser: feed() text chunks, get complete events back. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private eventType = "";
  private lastId = "";
  private retry: number | undefined;
  private started = false;
  private pendingCR = false;

  get lastEventId(): string {
    return this.lastId;
  }

  feed(chunk: string): SseEvent[] {
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.pendingCR) {
      this.pendingCR = false;
      if (chunk.startsWith("\n")) chunk = chunk.slice(1);
    }
    this.buffer += chunk;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      const line = this.buffer.slice(start, i);
      if (ch === "\r") {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === "\n") i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
      const event = this.processLine(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** End of stream: an incomplete event (no blank line yet) is discarded, per the spec. */
  end(): void {
    this.buffer = "";
    this.data = [];
    this.eventType = "";
    this.retry = undefined;
  }

  private processLine(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // comment (keep-alive)
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const retry = this.retry;
    this.retry = undefined;
    if (this.data.length === 0) {
      this.eventType = "";
      return retry === undefined ? null : { event: "", data: "", id: this.lastId, retry };
    }
    const event: SseEvent = {
      event: this.eventType || "message",
      data: this.data.join("\n"),
      id: this.lastId,
    };
    if (retry !== undefined) event.retry = retry;
    this.data = [];
    this.eventType = "";
    return event;
  }
}

export interface StreamOptions {
  token?: string | null;
  signal?: AbortSignal;
  /** Called for every event; return true to stop the stream (e.g. the run finished). */
  onEvent: (event: SseEvent) => boolean | void;
  onOpen?: () => void;
  /** Called when the stream broke and will be retried (attempt counts from 1). */
  onRetry?: (attempt: number, error: unknown) => void;
  /** Reconnect after the stream ends or breaks (default true); 4xx answers never retry. */
  reconnect?: boolean;
  maxRetries?: number;
  initialRetryMs?: number;
  lastEventId?: string;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Read an event stream until onEvent returns true, the signal aborts, or reconnecting
 * gives up. Resolves when done; rejects with ApiError on an HTTP error answer (never
 * retried for 4xx) or after maxRetries failed reconnections.
 */
export async function streamEvents(url: string, options: StreamOptions): Promise<void> {
  const fetchImpl = options.fetchImpl ?? fetch.bind(globalThis);
  const sleep = options.sleep ?? defaultSleep;
  const reconnect = options.reconnect ?? true;
  const maxRetries = options.maxRetries ?? 10;
  let retryMs = options.initialRetryMs ?? 1000;
  let lastEventId = options.lastEventId ?? "";
  let failures = 0;

  while (!options.signal?.aborted) {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    let error: unknown = null;
    try {
      let response: Response;
      try {
        response = await fetchImpl(url, { headers, signal: options.signal, cache: "no-store" });
      } catch (cause) {
        if (options.signal?.aborted) return;
        throw networkError(cause);
      }
      if (!response.ok) {
        let body: unknown = null;
        try {
          const text = await response.text();
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
        } catch {
          body = null;
        }
        const apiError = errorFromResponse(
          response.status, body, response.headers.get("x-request-id"));
        if (response.status < 500 && response.status !== 429) throw apiError;
        throw Object.assign(apiError, { retryable: true });
      }
      const type = response.headers.get("content-type") ?? "";
      if (!type.includes("text/event-stream")) {
        throw new ApiError(response.status,
          `The gateway answered with ${type || "no content type"} instead of an event stream.`);
      }
      if (!response.body) throw new ApiError(response.status, "The event stream has no body.");
      options.onOpen?.();
      const parser = new SseParser();
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let stop = false;
      try {
        while (!stop) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (cause) {
            if (options.signal?.aborted) return;
            throw networkError(cause);
          }
          if (chunk.done) break;
          for (const event of parser.feed(decoder.decode(chunk.value, { stream: true }))) {
            lastEventId = event.id;
            if (event.retry !== undefined) retryMs = event.retry;
            if (event.event === "") continue; // a bare retry: field
            failures = 0;
            if (options.onEvent(event) === true) {
              stop = true;
              break;
            }
          }
        }
      } finally {
        parser.end();
        if (stop) await reader.cancel().catch(() => undefined);
        else reader.releaseLock();
      }
      if (stop || options.signal?.aborted || !reconnect) return;
      error = networkError(new Error("the event stream ended"));
    } catch (caught) {
      if (options.signal?.aborted) return;
      const retryable =
        !(caught instanceof ApiError) ||
        caught.status === 0 ||
        (caught as ApiError & { retryable?: boolean }).retryable === true;
      if (!retryable || !reconnect) throw caught;
      error = caught;
    }
    failures += 1;
    if (failures > maxRetries) throw error;
    options.onRetry?.(failures, error);
    await sleep(Math.min(retryMs * 2 ** (failures - 1), 30_000), options.signal);
  }
}
