import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { ErrorAlert } from "../components/ErrorAlert";
import { TERMINAL, type ApiClient, type WorkflowRun, type WorkflowStep } from "../lib/api";
import { errorMessage } from "../lib/errors";
import { parseSteps, progressOf, STEP_TEMPLATES, STEP_TYPES } from "../lib/workflows";

function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

function Progress({ run }: { run: WorkflowRun }) {
  const { done, total, percent } = progressOf(run);
  return (
    <div className="progress-wrap">
      <progress
        max={100}
        value={percent}
        aria-label={`Progress of ${run.name}`}
        aria-valuetext={`${done} of ${total} steps`}
      />
      <span className="progress-text">
        {done}/{total} steps
      </span>
    </div>
  );
}

export function WorkflowsPage({ client }: { client: ApiClient }) {
  const [runs, setRuns] = useState<WorkflowRun[]>([]);
  const [loading, setLoading] = useState(true);
  const [listError, setListError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [streamErrors, setStreamErrors] = useState<Record<string, string>>({});
  const [expanded, setExpanded] = useState<string | null>(null);

  const [name, setName] = useState("");
  const [template, setTemplate] = useState(STEP_TEMPLATES[0].id);
  const [stepsText, setStepsText] = useState(JSON.stringify(STEP_TEMPLATES[0].steps, null, 2));
  const [inputText, setInputText] = useState(STEP_TEMPLATES[0].input);
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<unknown>(null);
  const [announcement, setAnnouncement] = useState("");

  const watchers = useRef(new Map<string, AbortController>());

  const merge = useCallback((id: string, update: Partial<WorkflowRun>) => {
    setRuns((current) => current.map((run) => (run.id === id ? { ...run, ...update, id } : run)));
  }, []);

  const refresh = useCallback(async () => {
    try {
      setRuns(await client.listWorkflows());
      setListError(null);
    } catch (caught) {
      setListError(caught);
    } finally {
      setLoading(false);
    }
  }, [client]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // One live SSE subscription per run that is not finished yet.
  useEffect(() => {
    const active = new Set(runs.filter((r) => !TERMINAL.has(r.status)).map((r) => r.id));
    for (const [id, controller] of watchers.current) {
      if (!active.has(id)) {
        controller.abort();
        watchers.current.delete(id);
      }
    }
    for (const id of active) {
      if (watchers.current.has(id)) continue;
      const controller = new AbortController();
      watchers.current.set(id, controller);
      client
        .watchWorkflow(
          id,
          (progress) => {
            if (Object.keys(progress.run).length) merge(id, progress.run);
          },
          {
            signal: controller.signal,
            onRetry: (attempt, error) =>
              setStreamErrors((e) => ({
                ...e,
                [id]: `Live updates interrupted (${errorMessage(error)}); reconnecting, attempt ${attempt}.`,
              })),
            onOpen: () =>
              setStreamErrors((e) => {
                const { [id]: _, ...rest } = e;
                return rest;
              }),
          },
        )
        .then(async () => {
          if (controller.signal.aborted) return;
          // The stream ended at a terminal status: fetch the final result.
          const final = await client.getWorkflow(id);
          merge(id, final);
          setAnnouncement(`Workflow ${final.name} ${final.status}.`);
        })
        .catch((error: unknown) => {
          if (controller.signal.aborted) return;
          setStreamErrors((e) => ({ ...e, [id]: `Live updates stopped: ${errorMessage(error)}` }));
        });
    }
  }, [runs, client, merge]);

  useEffect(() => {
    const map = watchers.current;
    return () => {
      map.forEach((controller) => controller.abort());
      map.clear();
    };
  }, []);

  const pickTemplate = (id: string) => {
    const chosen = STEP_TEMPLATES.find((t) => t.id === id);
    setTemplate(id);
    if (chosen) {
      setStepsText(JSON.stringify(chosen.steps, null, 2));
      setInputText(chosen.input);
    }
  };

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setCreateError(null);
    let steps: WorkflowStep[];
    try {
      steps = parseSteps(stepsText);
    } catch (caught) {
      setCreateError(caught);
      return;
    }
    setCreating(true);
    try {
      const run = await client.createWorkflow({
        name: name.trim() || "Untitled workflow",
        steps,
        input: inputText.trim() ? { text: inputText } : {},
      });
      setRuns((current) => [run, ...current.filter((r) => r.id !== run.id)]);
      setAnnouncement(`Workflow ${run.name} created, ${run.status}.`);
      setName("");
    } catch (caught) {
      setCreateError(caught);
    } finally {
      setCreating(false);
    }
  };

  const cancel = async (run: WorkflowRun) => {
    setActionError(null);
    try {
      const updated = await client.cancelWorkflow(run.id);
      merge(run.id, updated.id ? updated : { status: "cancelled" });
      setAnnouncement(`Workflow ${run.name} ${updated.status || "cancelled"}.`);
    } catch (caught) {
      setActionError(caught);
    }
  };

  return (
    <section aria-labelledby="workflows-title">
      <h1 id="workflows-title" tabIndex={-1}>Workflows</h1>
      <p className="visually-hidden" aria-live="polite">{announcement}</p>
      <div className="grid-2">
        <form className="card" onSubmit={create} aria-labelledby="create-title">
          <h2 id="create-title">New workflow</h2>
          <label htmlFor="wf-name">Name</label>
          <input
            id="wf-name"
            value={name}
            maxLength={200}
            placeholder="Untitled workflow"
            onChange={(e) => setName(e.target.value)}
          />
          <label htmlFor="wf-template">Template</label>
          <select id="wf-template" value={template} onChange={(e) => pickTemplate(e.target.value)}>
            {STEP_TEMPLATES.map((t) => (
              <option key={t.id} value={t.id}>{t.label}</option>
            ))}
          </select>
          <label htmlFor="wf-steps">Steps (JSON list)</label>
          <textarea
            id="wf-steps"
            rows={7}
            spellCheck={false}
            className="mono"
            value={stepsText}
            aria-describedby="wf-steps-help"
            onChange={(e) => setStepsText(e.target.value)}
          />
          <p id="wf-steps-help" className="help">
            Each step is an object with a <code>type</code> ({STEP_TYPES.join(", ")}) and
            optional <code>params</code>; the worker runs them in order.
          </p>
          <label htmlFor="wf-input">Input text</label>
          <textarea id="wf-input" rows={3} value={inputText} onChange={(e) => setInputText(e.target.value)} />
          <ErrorAlert error={createError} />
          <button type="submit" disabled={creating}>{creating ? "Creating…" : "Create workflow"}</button>
        </form>

        <div className="card" aria-labelledby="runs-title">
          <div className="row-between">
            <h2 id="runs-title">Runs</h2>
            <button type="button" className="secondary" onClick={() => void refresh()}>Refresh</button>
          </div>
          <ErrorAlert error={listError} />
          <ErrorAlert error={actionError} onDismiss={() => setActionError(null)} />
          {loading ? (
            <p>Loading…</p>
          ) : runs.length === 0 && !listError ? (
            <p>No workflow runs yet.</p>
          ) : (
            <ul className="run-list">
              {runs.map((run) => (
                <li key={run.id} className="run" data-run-id={run.id} data-status={run.status}>
                  <div className="run-head">
                    <span className="run-name">{run.name}</span>
                    <StatusBadge status={run.status} />
                  </div>
                  <Progress run={run} />
                  {streamErrors[run.id] && !TERMINAL.has(run.status) && (
                    <p className="alert alert-warn" role="status">{streamErrors[run.id]}</p>
                  )}
                  {run.error && <p className="alert alert-error">Error: {run.error}</p>}
                  <div className="run-actions">
                    <button
                      type="button"
                      className="secondary"
                      aria-expanded={expanded === run.id}
                      aria-controls={`run-detail-${run.id}`}
                      onClick={() => setExpanded(expanded === run.id ? null : run.id)}
                    >
                      {expanded === run.id ? "Hide details" : "Details"}
                    </button>
                    {!TERMINAL.has(run.status) && (
                      <button type="button" className="danger" onClick={() => void cancel(run)}>
                        Cancel <span className="visually-hidden">{run.name}</span>
                      </button>
                    )}
                  </div>
                  {expanded === run.id && (
                    <div id={`run-detail-${run.id}`} className="run-detail">
                      <dl>
                        <dt>ID</dt><dd className="mono">{run.id}</dd>
                        {run.created_at && (<><dt>Created</dt><dd>{new Date(run.created_at).toLocaleString()}</dd></>)}
                        {run.finished_at && (<><dt>Finished</dt><dd>{new Date(run.finished_at).toLocaleString()}</dd></>)}
                        <dt>Steps</dt>
                        <dd>{run.steps.map((s) => s.type).join(" → ") || "none"}</dd>
                      </dl>
                      {run.result != null && (
                        <>
                          <h3>Result</h3>
                          <pre className="mono result">{JSON.stringify(run.result, null, 2)}</pre>
                        </>
                      )}
                    </div>
                  )}
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </section>
  );
}
