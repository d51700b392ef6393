// Small form helpers shared by the pages (pure functions, unit tested).

import type { Criterion, DecisionRequest } from "./api";

export function splitTags(text: string): string[] {
  return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
}

export interface CriterionInput {
  name: string;
  weight: string;
}

/** A decision request from the form, or an Error saying what to fix. */
export function buildDecision(
  question: string,
  options: string[],
  criteria: CriterionInput[],
): DecisionRequest {
  const q = question.trim();
  if (!q) throw new Error("Write the question to decide.");
  const opts = options.map((o) => o.trim()).filter(Boolean);
  if (new Set(opts.map((o) => o.toLowerCase())).size !== opts.length) {
    throw new Error("Each option must be different.");
  }
  if (opts.length < 2) throw new Error("Give at least two options.");
  const crit: Criterion[] = [];
  for (const [index, c] of criteria.entries()) {
    const name = c.name.trim();
    if (!name && !c.weight.trim()) continue;
    if (!name) throw new Error(`Criterion ${index + 1} needs a name.`);
    const weight = Number(c.weight);
    if (!Number.isFinite(weight) || weight <= 0) {
      throw new Error(`The weight of "${name}" must be a number above 0.`);
    }
    crit.push({ name, weight });
  }
  if (crit.length === 0) throw new Error("Give at least one criterion.");
  return { question: q, options: opts, criteria: crit };
}
