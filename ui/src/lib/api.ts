// The gateway's REST API (docs/services.md), typed for the UI. Every call sends the JWT
// as a Bearer token; every non-2xx answer becomes an ApiError with words in it.

import { ApiError, errorFromResponse, networkError } from "./errors";
import { streamEvents, type SseEvent, type StreamOptions } from "./sse";

export const ROUTES = {
  health: "/api/health",
  ready: "/api/ready",
  login: "/api/v1/auth/login",
  me: "/api/v1/auth/me",
  workflows: "/api/v1/workflows",
  workflow: (id: string) => `/api/v1/workflows/${encodeURIComponent(id)}`,
  cancel: (id: string) => `/api/v1/workflows/${encodeURIComponent(id)}/cancel`,
  events: (id: string) => `/api/v1/workflows/${encodeURIComponent(id)}/events`,
  memoryIngest: "/api/v1/memory/ingest",
  memorySearch: "/api/v1/memory/search",
  decisions: "/api/v1/decisions",
  flags: "/api/v1/flags",
  flag: (key: string) => `/api/v1/flags/${encodeURIComponent(key)}`,
} as const;

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export const TERMINAL: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

export interface WorkflowStep {
  type: string;
  [key: string]: unknown;
}

export interface WorkflowRun {
  id: string;
  name: string;
  status: RunStatus | string;
  steps: WorkflowStep[];
  current_step: number;
  input?: Record<string, unknown>;
  result?: Record<string, unknown> | null;
  error?: string | null;
  created_at?: string;
  updated_at?: string;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface CreateWorkflow {
  name: string;
  steps: WorkflowStep[];
  input: Record<string, unknown>;
}

export interface LoginResult {
  access_token: string;
  token_type?: string;
  expires_in?: number;
  user?: { username?: string; is_admin?: boolean; roles?: string[] };
}

export interface ComponentHealth {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  components: ComponentHealth[];
}

export interface MemoryHit {
  id: string;
  text: string;
  score: number | null;
  tags: string[];
  source_excerpt?: string;
}

export interface IngestResult {
  source_id?: string;
  /** Facts extracted from the text (already known ones included). */
  memories: { id: string; text: string }[];
  /** How many of them were new. */
  stored: number;
}

export interface Criterion {
  name: string;
  weight: number;
  goal: "max" | "min";
}

export interface DecisionOption {
  name: string;
  description: string;
  /** Raw value of the option on each criterion (by criterion name). */
  scores: Record<string, number>;
}

export interface DecisionRequest {
  question: string;
  options: DecisionOption[];
  criteria: Criterion[];
  namespace?: string;
  use_memory?: boolean;
}

export interface ScoredOption {
  option: string;
  score: number;
  /** Weighted, normalised contribution of each criterion to the score. */
  scores: Record<string, number>;
  rank: number;
  evidence: string[];
}

export interface DecisionResult {
  recommendation: string;
  ranking: ScoredOption[];
  rationale: string;
  memoriesUsed: number;
}

export interface FeatureFlag {
  key: string;
  value: unknown;
  source: string;
  description: string;
}

export interface RunProgress {
  type: string;
  run: Partial<WorkflowRun> & { id?: string };
  raw: unknown;
}

type Json = Record<string, unknown>;

function asRecord(value: unknown): Json {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

function asString(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : value == null ? fallback : String(value);
}

function asNumber(value: unknown): number | null {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) ? n : null;
}

/** A list answer may be a bare array or wrapped as {items: [...]} / {<key>: [...]}. */
export function unwrapList(body: unknown, ...keys: string[]): unknown[] {
  if (Array.isArray(body)) return body;
  const record = asRecord(body);
  for (const key of ["items", "results", "data", ...keys]) {
    if (Array.isArray(record[key])) return record[key] as unknown[];
  }
  return [];
}

export function normalizeRun(body: unknown): WorkflowRun {
  const r = asRecord(body);
  return {
    ...(r as Partial<WorkflowRun>),
    id: asString(r.id),
    name: asString(r.name, "(unnamed)"),
    status: asString(r.status, "queued"),
    steps: Array.isArray(r.steps) ? (r.steps as WorkflowStep[]) : [],
    current_step: asNumber(r.current_step) ?? 0,
  };
}

/** /api/ready answers {status, components|checks: {name: "ok" | {ok|status, detail}}}. */
export function normalizeReadiness(body: unknown, httpOk: boolean): Readiness {
  const r = asRecord(body);
  const table = asRecord(r.components ?? r.checks ?? r.dependencies);
  const components: ComponentHealth[] = Object.entries(table).map(([name, value]) => {
    if (typeof value === "boolean") return { name, ok: value, detail: value ? "ok" : "down" };
    if (typeof value === "string") {
      return { name, ok: ["ok", "up", "ready", "healthy", "pass"].includes(value), detail: value };
    }
    const v = asRecord(value);
    const status = asString(v.status ?? "");
    const ok = typeof v.ok === "boolean"
      ? v.ok
      : ["ok", "up", "ready", "healthy", "pass"].includes(status);
    return { name, ok, detail: asString(v.detail ?? v.error ?? v.message ?? status) || (ok ? "ok" : "down") };
  });
  components.sort((a, b) => a.name.localeCompare(b.name));
  const status = asString(r.status);
  const ready = typeof r.ready === "boolean"
    ? r.ready
    : status
      ? ["ok", "ready", "pass"].includes(status)
      : httpOk && components.every((c) => c.ok);
  return { ready, components };
}

export function normalizeHit(body: unknown): MemoryHit {
  const r = asRecord(body);
  const meta = asRecord(r.memory ?? r.payload);
  return {
    id: asString(r.id ?? meta.id),
    text: asString(r.text ?? meta.text),
    score: asNumber(r.score ?? r.similarity),
    tags: (Array.isArray(r.tags) ? r.tags : Array.isArray(meta.tags) ? meta.tags : []).map(String),
    source_excerpt: asString(r.source_excerpt ?? meta.source_excerpt) || undefined,
  };
}

export function normalizeDecision(body: unknown): DecisionResult {
  const r = asRecord(body);
  const list = unwrapList(r.ranking ?? r.options ?? r.scores ?? r.scored_options);
  const ranking = list.map((item, index) => {
    const o = asRecord(item);
    const scores: Record<string, number> = {};
    const breakdown = asRecord(o.scores ?? o.criteria ?? o.breakdown);
    for (const [k, v] of Object.entries(breakdown)) {
      const n = asNumber(typeof v === "object" ? asRecord(v).score : v);
      if (n != null) scores[k] = n;
    }
    return {
      option: asString(o.option ?? o.name ?? o.label),
      score: asNumber(o.score ?? o.total ?? o.weighted_score) ?? 0,
      scores,
      rank: asNumber(o.rank) ?? index + 1,
      evidence: (Array.isArray(o.evidence) ? o.evidence : []).map(String),
    };
  });
  ranking.sort((a, b) => a.rank - b.rank || b.score - a.score);
  return {
    recommendation: asString(r.best ?? r.recommendation ?? r.choice ?? ranking[0]?.option),
    ranking,
    rationale: asString(r.rationale ?? r.explanation),
    memoriesUsed: asNumber(r.memories_used) ?? 0,
  };
}

/** Flags as {flags: {key: value}} or a list of {key, value, source, description}. */
export function normalizeFlags(body: unknown): FeatureFlag[] {
  const r = asRecord(body);
  const rawList = Array.isArray(body) ? body : Array.isArray(r.flags) ? r.flags : null;
  let flags: FeatureFlag[];
  if (rawList) {
    flags = rawList.map((item) => {
      const f = asRecord(item);
      return {
        key: asString(f.key ?? f.name),
        value: f.value ?? f.enabled,
        source: asString(f.source),
        description: asString(f.description),
      };
    });
  } else {
    const table = asRecord(r.flags ?? body);
    const sources = asRecord(r.sources);
    flags = Object.entries(table).map(([key, value]) => ({
      key,
      value,
      source: asString(sources[key]),
      description: "",
    }));
  }
  return flags.filter((f) => f.key).sort((a, b) => a.key.localeCompare(b.key));
}

// The worker's progress events (src/aiwfe/worker/executor.py): queued, started, resumed,
// step_started {idx}, step_completed {idx}, completed {status}, failed {status, error},
// cancelled {by}. Each carries run_id; ids are increasing integers (Last-Event-ID replay).
const EVENT_STATUS: Record<string, RunStatus> = {
  queued: "queued",
  started: "running",
  resumed: "running",
  step_started: "running",
  step_completed: "running",
  completed: "succeeded",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
};
export const TERMINAL_EVENTS: ReadonlySet<string> = new Set([
  "completed", "succeeded", "failed", "cancelled",
]);

/** One SSE event of a run, read as a (partial) run update. */
export function parseRunEvent(event: SseEvent): RunProgress {
  let raw: unknown = event.data;
  try {
    raw = JSON.parse(event.data);
  } catch {
    return { type: event.event, run: {}, raw };
  }
  const data = asRecord(raw);
  const nested = asRecord(data.run);
  const source = Object.keys(nested).length ? nested : data;
  const type = event.event !== "message" ? event.event : asString(data.type) || event.event;
  const run: Partial<WorkflowRun> = {};
  if (typeof source.id === "string") run.id = source.id;
  else if (typeof data.run_id === "string") run.id = data.run_id;
  const status = typeof source.status === "string" ? source.status : EVENT_STATUS[type];
  if (status) run.status = status;
  const idx = asNumber(data.idx ?? data.step);
  if (asNumber(source.current_step) != null) run.current_step = asNumber(source.current_step)!;
  else if (idx != null) run.current_step = type === "step_completed" ? idx + 1 : idx;
  if (Array.isArray(source.steps)) run.steps = source.steps as WorkflowStep[];
  if ("result" in source) run.result = source.result as WorkflowRun["result"];
  if (typeof source.error === "string") run.error = source.error;
  return { type, run, raw };
}

export interface ClientOptions {
  baseUrl?: string;
  getToken?: () => string | null;
  /** Called on every 401 so the app can drop the session and show the login form. */
  onUnauthorized?: (error: ApiError) => void;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly getToken: () => string | null;
  private readonly onUnauthorized?: (error: ApiError) => void;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/$/, "");
    this.getToken = options.getToken ?? (() => null);
    this.onUnauthorized = options.onUnauthorized;
    this.fetchImpl = options.fetchImpl ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  url(path: string): string {
    return this.baseUrl + path;
  }

  /** One JSON request; resolves with the parsed body (null for 204), throws ApiError. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    init: { auth?: boolean; signal?: AbortSignal; allowError?: boolean } = {},
  ): Promise<{ status: number; ok: boolean; body: T }> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = init.auth === false ? null : this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("timed out")), this.timeoutMs);
    const abort = () => controller.abort(init.signal?.reason);
    init.signal?.addEventListener("abort", abort);
    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch (cause) {
      if (init.signal?.aborted) throw cause;
      const timedOut = controller.signal.aborted;
      throw timedOut
        ? new ApiError(0, `The gateway did not answer within ${this.timeoutMs / 1000} s.`)
        : networkError(cause);
    } finally {
      clearTimeout(timer);
      init.signal?.removeEventListener("abort", abort);
    }
    const text = response.status === 204 ? "" : await response.text().catch(() => "");
    let parsed: unknown = null;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!response.ok && !init.allowError) {
      const retryAfter = asNumber(response.headers.get("retry-after"));
      const error = errorFromResponse(
        response.status, parsed, response.headers.get("x-request-id"), retryAfter);
      if (response.status === 401 && token) this.onUnauthorized?.(error);
      throw error;
    }
    return { status: response.status, ok: response.ok, body: parsed as T };
  }

  async get<T = unknown>(path: string, signal?: AbortSignal): Promise<T> {
    return (await this.request<T>("GET", path, undefined, { signal })).body;
  }

  async post<T = unknown>(path: string, body?: unknown): Promise<T> {
    return (await this.request<T>("POST", path, body ?? {})).body;
  }

  // ---- endpoints ---------------------------------------------------------------------

  async login(username: string, password: string): Promise<LoginResult> {
    const { body } = await this.request<Json>(
      "POST", ROUTES.login, { username, password }, { auth: false });
    const token = asString(body?.access_token ?? body?.token);
    if (!token) throw new ApiError(200, "The gateway's login answer holds no access token.");
    return { ...(body as Partial<LoginResult>), access_token: token };
  }

  async readiness(signal?: AbortSignal): Promise<Readiness> {
    // 503 is a normal answer here: it says which component is down.
    const { body, ok } = await this.request("GET", ROUTES.ready, undefined, {
      auth: false, signal, allowError: true });
    return normalizeReadiness(body, ok);
  }

  async listWorkflows(signal?: AbortSignal): Promise<WorkflowRun[]> {
    return unwrapList(await this.get(`${ROUTES.workflows}?limit=50`, signal), "runs", "workflows")
      .map(normalizeRun);
  }

  async getWorkflow(id: string): Promise<WorkflowRun> {
    return normalizeRun(await this.get(ROUTES.workflow(id)));
  }

  async createWorkflow(request: CreateWorkflow): Promise<WorkflowRun> {
    return normalizeRun(await this.post(ROUTES.workflows, request));
  }

  async cancelWorkflow(id: string): Promise<WorkflowRun> {
    return normalizeRun(await this.post(ROUTES.cancel(id)));
  }

  /** Follow a run's progress events until it reaches a terminal status (or abort). */
  watchWorkflow(
    id: string,
    onProgress: (progress: RunProgress) => void,
    options: Omit<StreamOptions, "onEvent" | "token"> = {},
  ): Promise<void> {
    return streamEvents(this.url(ROUTES.events(id)), {
      ...options,
      token: this.getToken(),
      fetchImpl: options.fetchImpl ?? this.fetchImpl,
      onEvent: (event) => {
        const progress = parseRunEvent(event);
        onProgress(progress);
        const status = progress.run.status;
        return (status != null && TERMINAL.has(status)) || TERMINAL_EVENTS.has(progress.type);
      },
    }).catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 401) this.onUnauthorized?.(error);
      throw error;
    });
  }

  async ingestMemory(text: string, namespace: string, tags: string[]): Promise<IngestResult> {
    const body = asRecord(await this.post(ROUTES.memoryIngest, { text, namespace, tags }));
    const memories = unwrapList(body.facts ?? body.memories ?? body.items).map((m) => {
      const r = asRecord(m);
      return { id: asString(r.id), text: asString(r.text ?? m) };
    });
    return {
      source_id: body.source_id ? asString(body.source_id) : undefined,
      memories,
      stored: asNumber(body.stored) ?? memories.length,
    };
  }

  async searchMemory(query: string, namespace: string, limit: number): Promise<MemoryHit[]> {
    const body = await this.post(ROUTES.memorySearch, { query, namespace, limit });
    return unwrapList(body, "hits", "memories").map(normalizeHit);
  }

  async analyseDecision(request: DecisionRequest): Promise<DecisionResult> {
    return normalizeDecision(await this.post(ROUTES.decisions, request));
  }

  async listFlags(): Promise<FeatureFlag[]> {
    return normalizeFlags(await this.get(ROUTES.flags));
  }

  async setFlag(key: string, value: unknown): Promise<void> {
    await this.request("PUT", ROUTES.flag(key), { value });
  }
}
