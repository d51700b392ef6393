// Workflow helpers that need no network: templates, step validation, progress.

import type { WorkflowRun, WorkflowStep } from "./api";

export interface StepTemplate {
  id: string;
  label: string;
  steps: WorkflowStep[];
  input: string;
}

// Step types of src/aiwfe/core/workflow.py: perceive, remember, recall, decide, chat,
// generate, wait. Each step's request is filled from the run input (here {"text": ...}),
// then from its params.
export const STEP_TYPES = ["perceive", "remember", "recall", "decide", "chat", "generate", "wait"];

export const STEP_TEMPLATES: StepTemplate[] = [
  {
    id: "remember",
    label: "Analyse and remember text (perceive → remember → recall)",
    steps: [
      { type: "perceive" },
      { type: "remember", params: { namespace: "default", tags: ["workflow"] } },
      { type: "recall", params: { query: "login problems", limit: 3 } },
    ],
    input: "Our support queue doubled after the release; most tickets mention slow logins.",
  },
  {
    id: "perceive",
    label: "Extract entities (perceive)",
    steps: [{ type: "perceive" }],
    input: "Alice from Acme Corp met Bob in Berlin on 3 March.",
  },
  {
    id: "slow",
    label: "Slow demo: wait 3 s three times",
    steps: [
      { type: "wait", params: { seconds: 3 } },
      { type: "wait", params: { seconds: 3 } },
      { type: "wait", params: { seconds: 3 } },
    ],
    input: "",
  },
  {
    id: "generate",
    label: "Generate text with the LLM (generate)",
    steps: [{ type: "generate", params: { prompt: "Write a haiku about workflows." } }],
    input: "",
  },
];

/** Steps from the JSON the user typed; throws an Error whose message says what to fix. */
export function parseSteps(text: string): WorkflowStep[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : "not JSON";
    throw new Error(`Steps must be valid JSON (${reason}).`);
  }
  if (!Array.isArray(value) || value.length === 0) {
    throw new Error("Steps must be a non-empty JSON list, e.g. [{\"type\": \"perception\"}].");
  }
  value.forEach((step, index) => {
    if (!step || typeof step !== "object" || Array.isArray(step)) {
      throw new Error(`Step ${index + 1} must be an object with a "type".`);
    }
    const type = (step as Record<string, unknown>).type;
    if (typeof type !== "string" || !type.trim()) {
      throw new Error(`Step ${index + 1} has no "type".`);
    }
    if (!STEP_TYPES.includes(type)) {
      throw new Error(`Step ${index + 1} has an unknown type "${type}"; use one of ${STEP_TYPES.join(", ")}.`);
    }
  });
  return value as WorkflowStep[];
}

/** Steps done out of the total, for the progress bar. */
export function progressOf(run: Pick<WorkflowRun, "status" | "steps" | "current_step">): {
  done: number;
  total: number;
  percent: number;
} {
  const total = Math.max(run.steps.length, 1);
  let done = Math.min(Math.max(run.current_step, 0), total);
  if (run.status === "succeeded") done = total;
  return { done, total: run.steps.length, percent: Math.round((done / total) * 100) };
}
