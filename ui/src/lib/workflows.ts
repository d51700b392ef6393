// Workflow helpers that need no network: templates, step validation, progress.

import type { WorkflowRun, WorkflowStep } from "./api";

export interface StepTemplate {
  id: string;
  label: string;
  steps: WorkflowStep[];
  input: string;
}

// Step types run by the worker through cognitive-services (docs/services.md).
export const STEP_TEMPLATES: StepTemplate[] = [
  {
    id: "analyse",
    label: "Analyse text (perception → memory → reasoning)",
    steps: [{ type: "perception" }, { type: "memory" }, { type: "reasoning" }],
    input: "Our support queue doubled after the release; most tickets mention slow logins.",
  },
  {
    id: "remember",
    label: "Remember text (perception → memory)",
    steps: [{ type: "perception" }, { type: "memory" }],
    input: "The staging cluster is upgraded every Tuesday at 10:00 UTC.",
  },
  {
    id: "perceive",
    label: "Extract entities (perception)",
    steps: [{ type: "perception" }],
    input: "Alice from Acme Corp met Bob in Berlin on 3 March.",
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
