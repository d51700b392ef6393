import { useEffect, useState } from "react";
import type { ApiClient, Readiness } from "../lib/api";
import { errorMessage } from "../lib/errors";

const POLL_MS = 15_000;

/** Which platform components are healthy, from GET /api/ready, refreshed every 15 s. */
export function HealthBar({ client }: { client: ApiClient }) {
  const [state, setState] = useState<Readiness | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const readiness = await client.readiness(controller.signal);
        setState(readiness);
        setError(null);
      } catch (caught) {
        if (controller.signal.aborted) return;
        setError(caught);
      }
      if (!controller.signal.aborted) timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [client]);

  if (error) {
    return (
      <div className="health" aria-live="polite">
        <span className="badge badge-down" title={errorMessage(error)}>gateway unreachable</span>
      </div>
    );
  }
  if (!state) return <div className="health" aria-live="polite"><span className="badge">checking…</span></div>;
  return (
    <div className="health" aria-live="polite">
      <span className="visually-hidden">
        Platform {state.ready ? "ready" : "degraded"}.
      </span>
      <ul className="health-list" aria-label="Component health">
        {state.components.length === 0 && (
          <li className={`badge ${state.ready ? "badge-ok" : "badge-down"}`}>
            {state.ready ? "ready" : "not ready"}
          </li>
        )}
        {state.components.map((c) => (
          <li
            key={c.name}
            className={`badge ${c.ok ? "badge-ok" : "badge-down"}`}
            title={c.detail}
            data-component={c.name}
          >
            <span aria-hidden="true">{c.ok ? "●" : "○"}</span> {c.name}
            <span className="visually-hidden">: {c.ok ? "healthy" : `down (${c.detail})`}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
