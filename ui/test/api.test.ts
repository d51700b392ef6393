import { describe, expect, it, vi } from "vitest";
import {
  ApiClient,
  ROUTES,
  normalizeDecision,
  normalizeFlags,
  normalizeReadiness,
  parseRunEvent,
  unwrapList,
} from "../src/lib/api";
import { ApiError } from "../src/lib/errors";
import { header, jsonResponse, queueFetch, sseResponse } from "./helpers";

function client(fetchImpl: typeof fetch, token: string | null = "tok", onUnauthorized = vi.fn()) {
  return { api: new ApiClient({ fetchImpl, getToken: () => token, onUnauthorized }), onUnauthorized };
}

describe("ApiClient.request", () => {
  it("sends JSON with the Bearer token and parses the answer", async () => {
    const { fetchImpl, calls } = queueFetch(jsonResponse(201, { id: "r1", name: "n", status: "queued", steps: [] }));
    const { api } = client(fetchImpl);
    const run = await api.createWorkflow({ name: "n", steps: [{ type: "perception" }], input: {} });
    expect(run).toMatchObject({ id: "r1", status: "queued", current_step: 0 });
    expect(calls[0].url).toBe(ROUTES.workflows);
    expect(calls[0].init.method).toBe("POST");
    expect(header(calls[0].init, "Authorization")).toBe("Bearer tok");
    expect(header(calls[0].init, "Content-Type")).toBe("application/json");
    expect(JSON.parse(String(calls[0].init.body))).toEqual({
      name: "n",
      steps: [{ type: "perception" }],
      input: {},
    });
  });

  it("prefixes a base URL and escapes ids in paths", async () => {
    const { fetchImpl, calls } = queueFetch(jsonResponse(200, { id: "a/b", status: "cancelled" }));
    const api = new ApiClient({ baseUrl: "https://aiwfe.example/", fetchImpl, getToken: () => "t" });
    await api.cancelWorkflow("a/b");
    expect(calls[0].url).toBe("https://aiwfe.example/api/v1/workflows/a%2Fb/cancel");
  });

  it("throws an ApiError in words with the request id", async () => {
    const { fetchImpl } = queueFetch(
      jsonResponse(422, { detail: [{ loc: ["body", "name"], msg: "String should have at most 200 characters" }] }, {
        "x-request-id": "abc123",
      }),
    );
    const { api } = client(fetchImpl);
    const error = await api.createWorkflow({ name: "x", steps: [], input: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe(
      "Some fields are not valid: name: String should have at most 200 characters.",
    );
    expect((error as ApiError).requestId).toBe("abc123");
  });

  it("reports 401 to the app when a token was sent", async () => {
    const { fetchImpl } = queueFetch(jsonResponse(401, { detail: "token expired" }));
    const { api, onUnauthorized } = client(fetchImpl);
    await expect(api.listWorkflows()).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it("does not treat a failed login as a lost session", async () => {
    const { fetchImpl, calls } = queueFetch(jsonResponse(401, { detail: "invalid username or password" }));
    const { api, onUnauthorized } = client(fetchImpl);
    await expect(api.login("admin", "nope")).rejects.toThrow(
      "Your session has expired or the credentials are wrong; please log in again: invalid username or password.",
    );
    expect(onUnauthorized).not.toHaveBeenCalled();
    expect(header(calls[0].init, "Authorization")).toBeUndefined();
  });

  it("requires an access token in the login answer", async () => {
    const { fetchImpl } = queueFetch(jsonResponse(200, { token_type: "bearer" }));
    await expect(client(fetchImpl).api.login("a", "b")).rejects.toThrow(/no access token/);
  });

  it("maps network failures and timeouts to words", async () => {
    const { fetchImpl } = queueFetch(new TypeError("Failed to fetch"));
    await expect(client(fetchImpl).api.listWorkflows()).rejects.toThrow(/Cannot reach the gateway/);

    const hanging = ((_: unknown, init: RequestInit) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      })) as typeof fetch;
    const api = new ApiClient({ fetchImpl: hanging, timeoutMs: 20 });
    await expect(api.listWorkflows()).rejects.toThrow("The gateway did not answer within 0.02 s.");
  });

  it("reads plain-text error bodies", async () => {
    const { fetchImpl } = queueFetch(new Response("upstream timeout", { status: 504 }));
    await expect(client(fetchImpl).api.listFlags()).rejects.toThrow(
      "A platform component took too long to answer: upstream timeout.",
    );
  });
});

describe("readiness", () => {
  it("treats a 503 answer as data, not as an error", async () => {
    const { fetchImpl, calls } = queueFetch(
      jsonResponse(503, { status: "not ready", checks: { postgres: "ok", redis: { ok: false, detail: "timeout" } } }),
    );
    const ready = await client(fetchImpl, null).api.readiness();
    expect(ready).toEqual({
      ready: false,
      components: [
        { name: "postgres", ok: true, detail: "ok" },
        { name: "redis", ok: false, detail: "timeout" },
      ],
    });
    expect(calls[0].url).toBe("/api/ready");
  });

  it("normalizes the shapes /api/ready may take", () => {
    expect(normalizeReadiness({ components: { a: true, b: { status: "up" } } }, true)).toEqual({
      ready: true,
      components: [
        { name: "a", ok: true, detail: "ok" },
        { name: "b", ok: true, detail: "up" },
      ],
    });
    expect(normalizeReadiness({ ready: false }, true).ready).toBe(false);
    expect(normalizeReadiness(null, false)).toEqual({ ready: false, components: [] });
  });
});

describe("list and result normalizers", () => {
  it("unwraps bare and wrapped lists", () => {
    expect(unwrapList([1])).toEqual([1]);
    expect(unwrapList({ items: [2] })).toEqual([2]);
    expect(unwrapList({ runs: [3] }, "runs")).toEqual([3]);
    expect(unwrapList({ nothing: 1 })).toEqual([]);
  });

  it("lists workflows with defaults filled in", async () => {
    const { fetchImpl, calls } = queueFetch(jsonResponse(200, { items: [{ id: "1", status: "running" }] }));
    const runs = await client(fetchImpl).api.listWorkflows();
    expect(runs).toEqual([{ id: "1", name: "(unnamed)", status: "running", steps: [], current_step: 0 }]);
    expect(calls[0].url).toBe("/api/v1/workflows?limit=50");
  });

  it("reads the reasoning module's DecideResponse", () => {
    const result = normalizeDecision({
      question: "Which DB?",
      best: "A",
      ranking: [
        { name: "A", score: 0.9, breakdown: { cost: 0.8, speed: 0.1 }, evidence: ["A was fine last time"] },
        { name: "B", score: 0.4, breakdown: { cost: 0.2 }, evidence: [] },
      ],
      rationale: "A is cheaper.",
      memories_used: 1,
    });
    expect(result.recommendation).toBe("A");
    expect(result.ranking.map((r) => [r.option, r.rank])).toEqual([["A", 1], ["B", 2]]);
    expect(result.ranking[0].scores).toEqual({ cost: 0.8, speed: 0.1 });
    expect(result.ranking[0].evidence).toEqual(["A was fine last time"]);
    expect(result.rationale).toBe("A is cheaper.");
    expect(result.memoriesUsed).toBe(1);
  });

  it("orders by explicit rank when given and falls back to the top option", () => {
    const result = normalizeDecision({
      ranking: [
        { option: "B", score: "0.4", rank: 2, scores: { cost: { score: 0.2 } } },
        { option: "A", score: 0.9, rank: 1 },
      ],
    });
    expect(result.recommendation).toBe("A");
    expect(result.ranking[1].scores).toEqual({ cost: 0.2 });
    expect(result.memoriesUsed).toBe(0);
  });

  it("reads flags as a table or as a list", () => {
    expect(normalizeFlags({ flags: { b: true, a: "x" }, sources: { a: "override" } })).toEqual([
      { key: "a", value: "x", source: "override", description: "" },
      { key: "b", value: true, source: "", description: "" },
    ]);
    expect(normalizeFlags([{ name: "z", enabled: false, description: "d" }])).toEqual([
      { key: "z", value: false, source: "", description: "d" },
    ]);
  });

  it("searches memory with the namespace and limit", async () => {
    const { fetchImpl, calls } = queueFetch(
      jsonResponse(200, { results: [{ id: "1", text: "fact", score: 0.91, tags: ["t"] }] }),
    );
    const hits = await client(fetchImpl).api.searchMemory("q", "ns", 3);
    expect(hits).toEqual([{ id: "1", text: "fact", score: 0.91, tags: ["t"], source_excerpt: undefined }]);
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ query: "q", namespace: "ns", limit: 3 });
  });
});

describe("workflow progress over SSE", () => {
  it("maps the worker's event types to run status and step progress", () => {
    const ev = (event: string, data: Record<string, unknown>) =>
      parseRunEvent({ event, id: "1", data: JSON.stringify({ run_id: "r", ...data }) }).run;
    expect(ev("queued", { status: "queued" })).toEqual({ id: "r", status: "queued" });
    expect(ev("started", { attempt: 1, worker: "w" })).toEqual({ id: "r", status: "running" });
    expect(ev("step_started", { idx: 1, type: "wait" })).toEqual({ id: "r", status: "running", current_step: 1 });
    expect(ev("step_completed", { idx: 1, type: "wait" })).toEqual({ id: "r", status: "running", current_step: 2 });
    expect(ev("completed", { status: "succeeded" })).toEqual({ id: "r", status: "succeeded" });
    expect(ev("failed", { status: "failed", error: "step 0 (recall): boom" })).toEqual({
      id: "r",
      status: "failed",
      error: "step 0 (recall): boom",
    });
    expect(ev("cancelled", { by: "admin" })).toEqual({ id: "r", status: "cancelled" });
    expect(ev("something_new", {})).toEqual({ id: "r" });
  });

  it("parses run events, flat or nested", () => {
    expect(parseRunEvent({ event: "run", id: "2", data: "{\"run\":{\"id\":\"r\",\"status\":\"succeeded\",\"result\":{}}}" }).run)
      .toEqual({ id: "r", status: "succeeded", result: {} });
    expect(parseRunEvent({ event: "message", id: "", data: "not json" })).toEqual({
      type: "message",
      run: {},
      raw: "not json",
    });
  });

  it("follows a run until its terminal event", async () => {
    const { fetchImpl, calls } = queueFetch(
      sseResponse([
        "id: 1\nevent: started\ndata: {\"attempt\":1}\n\n",
        ": ping\n\n",
        "id: 2\nevent: step_started\ndata: {\"idx\":0}\n\n",
        "id: 3\nevent: step_completed\ndata: {\"idx\":0}\n\n",
        "id: 4\nevent: cancelled\ndata: {\"by\":\"x\"}\n\n",
        "id: 5\nevent: started\ndata: {}\n\n",
      ]),
    );
    const statuses: string[] = [];
    await client(fetchImpl).api.watchWorkflow("r 1", (p) => statuses.push(`${p.run.status}@${p.run.current_step}`));
    expect(statuses).toEqual(["running@undefined", "running@0", "running@1", "cancelled@undefined"]);
    expect(calls[0].url).toBe("/api/v1/workflows/r%201/events");
    expect(header(calls[0].init, "Authorization")).toBe("Bearer tok");
  });

  it("reports a 401 on the stream as a lost session", async () => {
    const { fetchImpl } = queueFetch(jsonResponse(401, { detail: "token expired" }));
    const { api, onUnauthorized } = client(fetchImpl);
    await expect(api.watchWorkflow("r", () => undefined)).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });
});
