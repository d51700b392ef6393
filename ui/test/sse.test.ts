import { describe, expect, it } from "vitest";
import { ApiError } from "../src/lib/errors";
import { SseParser, streamEvents, type SseEvent } from "../src/lib/sse";
import { header, jsonResponse, queueFetch, sseResponse } from "./helpers";

const noSleep = async () => undefined;

describe("SseParser", () => {
  it("parses events with type, id and multi-line data", () => {
    const parser = new SseParser();
    const events = parser.feed("id: 1\nevent: progress\ndata: {\"a\":1}\ndata: second\n\n");
    expect(events).toEqual([{ event: "progress", data: "{\"a\":1}\nsecond", id: "1" }]);
    expect(parser.lastEventId).toBe("1");
  });

  it("defaults the type to message and strips only one leading space", () => {
    const parser = new SseParser();
    expect(parser.feed("data:  two spaces\n\n")).toEqual([
      { event: "message", data: " two spaces", id: "" },
    ]);
  });

  it("ignores comments, unknown fields and data-less blocks", () => {
    const parser = new SseParser();
    expect(parser.feed(": keep-alive\n\nfoo: bar\n\nevent: x\n\n")).toEqual([]);
    // the event type of a data-less block must not leak into the next event
    expect(parser.feed("data: y\n\n")).toEqual([{ event: "message", data: "y", id: "" }]);
  });

  it("handles CRLF and CR line endings, including CRLF split across chunks", () => {
    const parser = new SseParser();
    expect(parser.feed("data: a\r\n\r\ndata: b\r\rdata: c\r")).toEqual([
      { event: "message", data: "a", id: "" },
      { event: "message", data: "b", id: "" },
    ]);
    expect(parser.feed("\n\r\n")).toEqual([{ event: "message", data: "c", id: "" }]);
  });

  it("reassembles events split at any byte", () => {
    const text = "id: 7\nevent: progress\ndata: {\"status\":\"running\"}\n\n";
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
      expect(events).toEqual([{ event: "progress", data: "{\"status\":\"running\"}", id: "7" }]);
    }
  });

  it("keeps the last id across events, refuses ids with NUL, reads retry", () => {
    const parser = new SseParser();
    const events = parser.feed("id: 5\ndata: a\n\ndata: b\n\nid: x\0y\nretry: 2500\ndata: c\n\nretry: abc\n\n");
    expect(events.map((e) => e.id)).toEqual(["5", "5", "5"]);
    expect(events[2].retry).toBe(2500);
  });

  it("strips a leading BOM and a field line without colon", () => {
    const parser = new SseParser();
    expect(parser.feed("\uFEFFdata\n\n")).toEqual([{ event: "message", data: "", id: "" }]);
  });

  it("drops an unterminated event at end of stream", () => {
    const parser = new SseParser();
    expect(parser.feed("data: partial")).toEqual([]);
    parser.end();
    expect(parser.feed("\n\n")).toEqual([]);
  });
});

describe("streamEvents", () => {
  it("sends the token as a Bearer header and stops when the handler says so", async () => {
    const { fetchImpl, calls } = queueFetch(
      sseResponse(["id: 1\nevent: progress\ndata: 1\n\n", "id: 2\nevent: end\ndata: 2\n\n", "data: never\n\n"]),
    );
    const seen: SseEvent[] = [];
    await streamEvents("/events", {
      token: "tok",
      fetchImpl,
      sleep: noSleep,
      onEvent: (e) => {
        seen.push(e);
        return e.event === "end";
      },
    });
    expect(seen.map((e) => e.data)).toEqual(["1", "2"]);
    expect(calls).toHaveLength(1);
    expect(header(calls[0].init, "Authorization")).toBe("Bearer tok");
    expect(header(calls[0].init, "Accept")).toBe("text/event-stream");
  });

  it("decodes UTF-8 split inside a multi-byte character", async () => {
    const bytes = new TextEncoder().encode("data: héllo ✓\n\n");
    const { fetchImpl } = queueFetch(sseResponse([bytes.slice(0, 8), bytes.slice(8, 16), bytes.slice(16)]));
    const seen: string[] = [];
    await streamEvents("/e", { fetchImpl, sleep: noSleep, onEvent: (e) => (seen.push(e.data), true) });
    expect(seen).toEqual(["héllo ✓"]);
  });

  it("reconnects with Last-Event-ID after the stream drops", async () => {
    const { fetchImpl, calls } = queueFetch(
      sseResponse(["id: 41\ndata: a\n\n"]),
      new TypeError("network down"),
      sseResponse(["id: 42\ndata: b\n\n"]),
    );
    const seen: string[] = [];
    const retries: number[] = [];
    await streamEvents("/e", {
      fetchImpl,
      sleep: noSleep,
      onRetry: (attempt) => retries.push(attempt),
      onEvent: (e) => {
        seen.push(e.data);
        return e.data === "b";
      },
    });
    expect(seen).toEqual(["a", "b"]);
    expect(retries).toEqual([1, 2]);
    expect(header(calls[0].init, "Last-Event-ID")).toBeUndefined();
    expect(header(calls[1].init, "Last-Event-ID")).toBe("41");
    expect(header(calls[2].init, "Last-Event-ID")).toBe("41");
  });

  it("honours the server's retry: delay with exponential backoff", async () => {
    const { fetchImpl } = queueFetch(
      sseResponse(["retry: 100\ndata: a\n\n"]),
      new TypeError("x"),
      sseResponse(["data: b\n\n"]),
    );
    const delays: number[] = [];
    await streamEvents("/e", {
      fetchImpl,
      sleep: async (ms) => void delays.push(ms),
      onEvent: (e) => e.data === "b",
    });
    expect(delays).toEqual([100, 200]);
  });

  it("rejects at once with the API's words on a 4xx answer", async () => {
    const { fetchImpl, calls } = queueFetch(jsonResponse(404, { detail: "run not found" }));
    await expect(
      streamEvents("/e", { fetchImpl, sleep: noSleep, onEvent: () => false }),
    ).rejects.toMatchObject({ status: 404, message: "Not found: run not found." });
    expect(calls).toHaveLength(1);
  });

  it("retries 503 answers, then gives up after maxRetries", async () => {
    const { fetchImpl, calls } = queueFetch(
      () => jsonResponse(503, { detail: "redis down" }),
      () => jsonResponse(503, { detail: "redis down" }),
      () => jsonResponse(503, { detail: "redis down" }),
    );
    const error = await streamEvents("/e", {
      fetchImpl,
      sleep: noSleep,
      maxRetries: 2,
      onEvent: () => false,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toContain("redis down");
    expect(calls).toHaveLength(3);
  });

  it("refuses an answer that is not an event stream", async () => {
    const { fetchImpl } = queueFetch(jsonResponse(200, { ok: true }));
    await expect(
      streamEvents("/e", { fetchImpl, sleep: noSleep, onEvent: () => false }),
    ).rejects.toThrow(/instead of an event stream/);
  });

  it("returns quietly when aborted", async () => {
    const controller = new AbortController();
    const { fetchImpl } = queueFetch(sseResponse(["data: a\n\n"]));
    await streamEvents("/e", {
      fetchImpl,
      sleep: noSleep,
      signal: controller.signal,
      onEvent: () => {
        controller.abort();
      },
    });
  });

  it("does not reconnect when reconnect is false", async () => {
    const { fetchImpl, calls } = queueFetch(sseResponse(["data: a\n\n"]));
    await streamEvents("/e", { fetchImpl, reconnect: false, onEvent: () => false });
    expect(calls).toHaveLength(1);
  });
});
