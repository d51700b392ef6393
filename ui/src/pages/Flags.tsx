import { useCallback, useEffect, useState } from "react";
import { ErrorAlert } from "../components/ErrorAlert";
import type { ApiClient, FeatureFlag } from "../lib/api";

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Feature flags from config-manager (through the gateway); admins may flip booleans. */
export function FlagsPage({ client }: { client: ApiClient }) {
  const [flags, setFlags] = useState<FeatureFlag[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState<string | null>(null);
  const [status, setStatus] = useState("");

  const load = useCallback(async () => {
    try {
      setFlags(await client.listFlags());
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  }, [client]);

  useEffect(() => {
    void load();
  }, [load]);

  const toggle = async (flag: FeatureFlag) => {
    setSaving(flag.key);
    setError(null);
    try {
      await client.setFlag(flag.key, !flag.value);
      setStatus(`${flag.key} is now ${!flag.value ? "on" : "off"}.`);
      await load();
    } catch (caught) {
      setError(caught);
    } finally {
      setSaving(null);
    }
  };

  return (
    <section aria-labelledby="flags-title">
      <h1 id="flags-title" tabIndex={-1}>Feature flags</h1>
      <p className="visually-hidden" aria-live="polite">{status}</p>
      <div className="card">
        <ErrorAlert error={error} />
        {flags == null ? (
          !error && <p>Loading…</p>
        ) : flags.length === 0 ? (
          <p>No feature flags are defined.</p>
        ) : (
          <div className="table-scroll">
            <table data-testid="flags-table">
              <thead>
                <tr>
                  <th scope="col">Flag</th>
                  <th scope="col">Value</th>
                  <th scope="col">Source</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {flags.map((flag) => (
                  <tr key={flag.key}>
                    <th scope="row">
                      <code>{flag.key}</code>
                      {flag.description && <div className="meta">{flag.description}</div>}
                    </th>
                    <td>
                      {typeof flag.value === "boolean" ? (
                        <span className={`status ${flag.value ? "status-succeeded" : "status-cancelled"}`}>
                          {flag.value ? "on" : "off"}
                        </span>
                      ) : (
                        <code>{show(flag.value)}</code>
                      )}
                    </td>
                    <td>{flag.source || "–"}</td>
                    <td>
                      {typeof flag.value === "boolean" && (
                        <button
                          type="button"
                          className="secondary"
                          disabled={saving === flag.key}
                          aria-pressed={flag.value}
                          onClick={() => void toggle(flag)}
                        >
                          Turn {flag.value ? "off" : "on"} <span className="visually-hidden">{flag.key}</span>
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}
