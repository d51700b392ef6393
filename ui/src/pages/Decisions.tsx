import { useState, type FormEvent } from "react";
import { ErrorAlert } from "../components/ErrorAlert";
import type { ApiClient, DecisionResult } from "../lib/api";
import { buildDecision, checkNamespace, type CriterionInput, type OptionInput } from "../lib/forms";

const emptyOption = (criteria: number): OptionInput => ({
  name: "",
  description: "",
  values: Array.from({ length: criteria }, () => ""),
});

export function DecisionsPage({ client }: { client: ApiClient }) {
  const [question, setQuestion] = useState("");
  const [criteria, setCriteria] = useState<CriterionInput[]>([{ name: "", weight: "1", goal: "max" }]);
  const [options, setOptions] = useState<OptionInput[]>([emptyOption(1), emptyOption(1)]);
  const [namespace, setNamespace] = useState("default");
  const [useMemory, setUseMemory] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<DecisionResult | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const request = buildDecision(question, options, criteria, useMemory);
      request.namespace = checkNamespace(namespace);
      setBusy(true);
      setResult(await client.analyseDecision(request));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const setOption = (index: number, patch: Partial<OptionInput>) =>
    setOptions((o) => o.map((v, i) => (i === index ? { ...v, ...patch } : v)));
  const setValue = (option: number, criterion: number, value: string) =>
    setOptions((o) =>
      o.map((v, i) =>
        i === option ? { ...v, values: v.values.map((x, j) => (j === criterion ? value : x)) } : v,
      ),
    );
  const setCriterion = (index: number, patch: Partial<CriterionInput>) =>
    setCriteria((c) => c.map((v, i) => (i === index ? { ...v, ...patch } : v)));
  const addCriterion = () => {
    setCriteria((c) => [...c, { name: "", weight: "1", goal: "max" }]);
    setOptions((o) => o.map((v) => ({ ...v, values: [...v.values, ""] })));
  };
  const removeCriterion = (index: number) => {
    setCriteria((c) => c.filter((_, i) => i !== index));
    setOptions((o) => o.map((v) => ({ ...v, values: v.values.filter((_, i) => i !== index) })));
  };

  const criterionLabel = (index: number) => criteria[index].name.trim() || `criterion ${index + 1}`;
  const breakdownNames = result
    ? [...new Set(result.ranking.flatMap((r) => Object.keys(r.scores)))]
    : [];

  return (
    <section aria-labelledby="decisions-title">
      <h1 id="decisions-title" tabIndex={-1}>Decision analysis</h1>
      <div className="grid-2 even">
        <form className="card" onSubmit={submit} aria-labelledby="decision-form-title">
          <h2 id="decision-form-title">Question</h2>
          <label htmlFor="dec-question">What do you need to decide?</label>
          <input id="dec-question" required maxLength={2000} value={question} onChange={(e) => setQuestion(e.target.value)} />

          <fieldset>
            <legend>Criteria</legend>
            <p className="help">Weight: how much it counts. Goal: whether more or less is better.</p>
            {criteria.map((criterion, index) => (
              <div className="row wrap" key={index}>
                <label htmlFor={`dec-criterion-${index}`} className="visually-hidden">Criterion {index + 1} name</label>
                <input
                  id={`dec-criterion-${index}`}
                  placeholder={`Criterion ${index + 1}, e.g. cost`}
                  maxLength={100}
                  value={criterion.name}
                  onChange={(e) => setCriterion(index, { name: e.target.value })}
                />
                <label htmlFor={`dec-weight-${index}`} className="visually-hidden">Weight of criterion {index + 1}</label>
                <input
                  id={`dec-weight-${index}`}
                  className="weight"
                  type="number"
                  min={0}
                  max={1000}
                  step="any"
                  title="Weight"
                  value={criterion.weight}
                  onChange={(e) => setCriterion(index, { weight: e.target.value })}
                />
                <label htmlFor={`dec-goal-${index}`} className="visually-hidden">Goal of criterion {index + 1}</label>
                <select
                  id={`dec-goal-${index}`}
                  className="goal"
                  value={criterion.goal}
                  onChange={(e) => setCriterion(index, { goal: e.target.value as "max" | "min" })}
                >
                  <option value="max">higher is better</option>
                  <option value="min">lower is better</option>
                </select>
                {criteria.length > 1 && (
                  <button
                    type="button"
                    className="secondary"
                    aria-label={`Remove criterion ${index + 1}`}
                    onClick={() => removeCriterion(index)}
                  >
                    ✕
                  </button>
                )}
              </div>
            ))}
            <button type="button" className="secondary" onClick={addCriterion}>Add criterion</button>
          </fieldset>

          <fieldset>
            <legend>Options</legend>
            {options.map((option, index) => (
              <div className="option-box" key={index} role="group" aria-label={`Option ${index + 1}`}>
                <div className="row">
                  <label htmlFor={`dec-option-${index}`} className="visually-hidden">Option {index + 1} name</label>
                  <input
                    id={`dec-option-${index}`}
                    placeholder={`Option ${index + 1}`}
                    maxLength={200}
                    value={option.name}
                    onChange={(e) => setOption(index, { name: e.target.value })}
                  />
                  {options.length > 2 && (
                    <button
                      type="button"
                      className="secondary"
                      aria-label={`Remove option ${index + 1}`}
                      onClick={() => setOptions((o) => o.filter((_, i) => i !== index))}
                    >
                      ✕
                    </button>
                  )}
                </div>
                <label htmlFor={`dec-desc-${index}`} className="visually-hidden">Option {index + 1} description</label>
                <input
                  id={`dec-desc-${index}`}
                  placeholder="Description (optional)"
                  value={option.description}
                  onChange={(e) => setOption(index, { description: e.target.value })}
                />
                <div className="values">
                  {criteria.map((_, c) => (
                    <div className="value" key={c}>
                      <label htmlFor={`dec-value-${index}-${c}`}>
                        {criterionLabel(c)}
                        <span className="visually-hidden"> of option {index + 1}</span>
                      </label>
                      <input
                        id={`dec-value-${index}-${c}`}
                        type="number"
                        step="any"
                        value={option.values[c] ?? ""}
                        onChange={(e) => setValue(index, c, e.target.value)}
                      />
                    </div>
                  ))}
                </div>
              </div>
            ))}
            <button
              type="button"
              className="secondary"
              onClick={() => setOptions((o) => [...o, emptyOption(criteria.length)])}
            >
              Add option
            </button>
          </fieldset>

          <div className="row wrap settings">
            <div>
              <label htmlFor="dec-namespace">Memory namespace</label>
              <input id="dec-namespace" value={namespace} onChange={(e) => setNamespace(e.target.value)} />
            </div>
            <label className="check">
              <input type="checkbox" checked={useMemory} onChange={(e) => setUseMemory(e.target.checked)} />
              Use recalled memories as evidence
            </label>
          </div>
          <ErrorAlert error={error} />
          <button type="submit" disabled={busy}>{busy ? "Analysing…" : "Analyse"}</button>
        </form>

        <div className="card" aria-live="polite">
          <h2>Result</h2>
          {!result ? (
            <p>Fill in the question, weighted criteria and the options' values, then choose Analyse.</p>
          ) : (
            <div data-testid="decision-result">
              <p className="recommendation">
                Recommended: <strong data-testid="recommendation">{result.recommendation || "no clear winner"}</strong>
              </p>
              <div className="table-scroll">
                <table>
                  <caption className="visually-hidden">Scores per option</caption>
                  <thead>
                    <tr>
                      <th scope="col">Rank</th>
                      <th scope="col">Option</th>
                      <th scope="col">Score</th>
                      {breakdownNames.map((c) => <th scope="col" key={c}>{c}</th>)}
                    </tr>
                  </thead>
                  <tbody>
                    {result.ranking.map((row) => (
                      <tr key={row.option}>
                        <td>{row.rank}</td>
                        <th scope="row">{row.option}</th>
                        <td>{row.score.toFixed(3)}</td>
                        {breakdownNames.map((c) => (
                          <td key={c}>{row.scores[c] != null ? row.scores[c].toFixed(3) : "–"}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p className="help">
                Score: weighted sum of the criteria, each normalised over the options to 0–1
                (the per-criterion columns are these weighted parts).
              </p>
              <h3>Rationale</h3>
              <p className="rationale" data-testid="rationale">{result.rationale || "No rationale given."}</p>
              <p className="meta">
                {result.memoriesUsed} {result.memoriesUsed === 1 ? "memory" : "memories"} used as evidence.
              </p>
              {result.ranking.some((r) => r.evidence.length > 0) && (
                <>
                  <h3>Evidence</h3>
                  <ul>
                    {result.ranking.flatMap((r) =>
                      r.evidence.map((e, i) => <li key={`${r.option}-${i}`}><strong>{r.option}:</strong> {e}</li>),
                    )}
                  </ul>
                </>
              )}
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
