// Small form helpers shared by the pages (pure functions, unit tested).

import type { Criterion, DecisionOption, DecisionRequest } from "./api";

export function splitTags(text: string): string[] {
  return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
}

export const NAMESPACE_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;

/** The namespace to send, or an Error naming the allowed characters. */
export function checkNamespace(text: string): string {
  const namespace = text.trim() || "default";
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new Error(
      "A namespace is 1 to 100 letters, digits or the characters _ . : - (no spaces).",
    );
  }
  return namespace;
}

export interface CriterionInput {
  name: string;
  weight: string;
  goal: "max" | "min";
}

export interface OptionInput {
  name: string;
  description: string;
  /** The option's value on each criterion, aligned with the criteria list ("" = unknown). */
  values: string[];
}

/** A decision request from the form, or an Error saying what to fix. */
export function buildDecision(
  question: string,
  options: OptionInput[],
  criteria: CriterionInput[],
  useMemory = true,
): DecisionRequest {
  const q = question.trim();
  if (!q) throw new Error("Write the question to decide.");

  const crit: (Criterion & { index: number })[] = [];
  criteria.forEach((c, index) => {
    const name = c.name.trim();
    if (!name) {
      if (c.weight.trim() && c.weight.trim() !== "1") {
        throw new Error(`Criterion ${index + 1} needs a name.`);
      }
      return;
    }
    const weight = Number(c.weight);
    if (!c.weight.trim() || !Number.isFinite(weight) || weight <= 0 || weight > 1000) {
      throw new Error(`The weight of "${name}" must be a number above 0 and at most 1000.`);
    }
    crit.push({ name, weight, goal: c.goal, index });
  });
  const names = crit.map((c) => c.name.toLowerCase());
  if (new Set(names).size !== names.length) throw new Error("Each criterion must have its own name.");

  const opts: DecisionOption[] = [];
  options.forEach((o, index) => {
    const name = o.name.trim();
    const hasValues = o.values.some((v) => v.trim());
    if (!name) {
      if (o.description.trim() || hasValues) throw new Error(`Option ${index + 1} needs a name.`);
      return;
    }
    const scores: Record<string, number> = {};
    for (const c of crit) {
      const raw = (o.values[c.index] ?? "").trim();
      if (!raw) continue;
      const value = Number(raw);
      if (!Number.isFinite(value)) {
        throw new Error(`The value of "${name}" on "${c.name}" must be a number.`);
      }
      scores[c.name] = value;
    }
    opts.push({ name, description: o.description.trim(), scores });
  });
  if (new Set(opts.map((o) => o.name)).size !== opts.length) {
    throw new Error("Each option must have its own name.");
  }
  if (opts.length < 2) throw new Error("Give at least two options.");
  return {
    question: q,
    options: opts,
    criteria: crit.map(({ name, weight, goal }) => ({ name, weight, goal })),
    use_memory: useMemory,
  };
}
