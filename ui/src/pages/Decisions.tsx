import { useState, type FormEvent } from "react";
import { ErrorAlert } from "../components/ErrorAlert";
import type { ApiClient, DecisionResult } from "../lib/api";
import { buildDecision, type CriterionInput } from "../lib/forms";

export function DecisionsPage({ client }: { client: ApiClient }) {
  const [question, setQuestion] = useState("");
  const [options, setOptions] = useState<string[]>(["", ""]);
  const [criteria, setCriteria] = useState<CriterionInput[]>([{ name: "", weight: "1" }]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<DecisionResult | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const request = buildDecision(question, options, criteria);
      setBusy(true);
      setResult(await client.analyseDecision(request));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const setOption = (index: number, value: string) =>
    setOptions((o) => o.map((v, i) => (i === index ? value : v)));
  const setCriterion = (index: number, patch: Partial<CriterionInput>) =>
    setCriteria((c) => c.map((v, i) => (i === index ? { ...v, ...patch } : v)));

  const criterionNames = result
    ? [...new Set(result.ranking.flatMap((r) => Object.keys(r.scores)))]
    : [];

  return (
    <section aria-labelledby="decisions-title">
      <h1 id="decisions-title" tabIndex={-1}>Decision analysis</h1>
      <div className="grid-2">
        <form className="card" onSubmit={submit} aria-labelledby="decision-form-title">
          <h2 id="decision-form-title">Question</h2>
          <label htmlFor="dec-question">What do you need to decide?</label>
          <input id="dec-question" required value={question} onChange={(e) => setQuestion(e.target.value)} />

          <fieldset>
            <legend>Options</legend>
            {options.map((option, index) => (
              <div className="row" key={index}>
                <label htmlFor={`dec-option-${index}`} className="visually-hidden">Option {index + 1}</label>
                <input
                  id={`dec-option-${index}`}
                  placeholder={`Option ${index + 1}`}
                  value={option}
                  onChange={(e) => setOption(index, e.target.value)}
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
            ))}
            <button type="button" className="secondary" onClick={() => setOptions((o) => [...o, ""])}>
              Add option
            </button>
          </fieldset>

          <fieldset>
            <legend>Criteria and weights</legend>
            {criteria.map((criterion, index) => (
              <div className="row" key={index}>
                <label htmlFor={`dec-criterion-${index}`} className="visually-hidden">Criterion {index + 1}</label>
                <input
                  id={`dec-criterion-${index}`}
                  placeholder={`Criterion ${index + 1}`}
                  value={criterion.name}
                  onChange={(e) => setCriterion(index, { name: e.target.value })}
                />
                <label htmlFor={`dec-weight-${index}`} className="visually-hidden">Weight of criterion {index + 1}</label>
                <input
                  id={`dec-weight-${index}`}
                  className="weight"
                  type="number"
                  min={0}
                  step="any"
                  value={criterion.weight}
                  onChange={(e) => setCriterion(index, { weight: e.target.value })}
                />
                {criteria.length > 1 && (
                  <button
                    type="button"
                    className="secondary"
                    aria-label={`Remove criterion ${index + 1}`}
                    onClick={() => setCriteria((c) => c.filter((_, i) => i !== index))}
                  >
                    ✕
                  </button>
                )}
              </div>
            ))}
            <button
              type="button"
              className="secondary"
              onClick={() => setCriteria((c) => [...c, { name: "", weight: "1" }])}
            >
              Add criterion
            </button>
          </fieldset>
          <ErrorAlert error={error} />
          <button type="submit" disabled={busy}>{busy ? "Analysing…" : "Analyse"}</button>
        </form>

        <div className="card" aria-live="polite">
          <h2>Result</h2>
          {!result ? (
            <p>Fill in the question, the options and weighted criteria, then choose Analyse.</p>
          ) : (
            <div data-testid="decision-result">
              <p className="recommendation">
                Recommended: <strong>{result.recommendation || "no clear winner"}</strong>
              </p>
              <div className="table-scroll">
                <table>
                  <caption className="visually-hidden">Scores per option</caption>
                  <thead>
                    <tr>
                      <th scope="col">Rank</th>
                      <th scope="col">Option</th>
                      <th scope="col">Score</th>
                      {criterionNames.map((c) => <th scope="col" key={c}>{c}</th>)}
                    </tr>
                  </thead>
                  <tbody>
                    {result.ranking.map((row) => (
                      <tr key={row.option}>
                        <td>{row.rank}</td>
                        <th scope="row">{row.option}</th>
                        <td>{row.score.toFixed(2)}</td>
                        {criterionNames.map((c) => (
                          <td key={c}>{row.scores[c] != null ? row.scores[c].toFixed(2) : "–"}</td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <h3>Rationale</h3>
              <p className="rationale" data-testid="rationale">{result.rationale || "No rationale given."}</p>
              {result.memories.length > 0 && (
                <>
                  <h3>Memories considered</h3>
                  <ul>{result.memories.map((m) => <li key={m.id || m.text}>{m.text}</li>)}</ul>
                </>
              )}
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
