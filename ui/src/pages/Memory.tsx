import { useState, type FormEvent } from "react";
import { ErrorAlert } from "../components/ErrorAlert";
import type { ApiClient, IngestResult, MemoryHit } from "../lib/api";
import { checkNamespace, splitTags } from "../lib/forms";

export function MemoryPage({ client }: { client: ApiClient }) {
  const [namespace, setNamespace] = useState("default");

  const [text, setText] = useState("");
  const [tags, setTags] = useState("");
  const [ingesting, setIngesting] = useState(false);
  const [ingestError, setIngestError] = useState<unknown>(null);
  const [ingested, setIngested] = useState<IngestResult | null>(null);

  const [query, setQuery] = useState("");
  const [limit, setLimit] = useState(5);
  const [searching, setSearching] = useState(false);
  const [searchError, setSearchError] = useState<unknown>(null);
  const [hits, setHits] = useState<MemoryHit[] | null>(null);

  const ingest = async (event: FormEvent) => {
    event.preventDefault();
    setIngesting(true);
    setIngestError(null);
    setIngested(null);
    try {
      setIngested(await client.ingestMemory(text, checkNamespace(namespace), splitTags(tags)));
      setText("");
    } catch (caught) {
      setIngestError(caught);
    } finally {
      setIngesting(false);
    }
  };

  const search = async (event: FormEvent) => {
    event.preventDefault();
    setSearching(true);
    setSearchError(null);
    try {
      setHits(await client.searchMemory(query, checkNamespace(namespace), limit));
    } catch (caught) {
      setSearchError(caught);
      setHits(null);
    } finally {
      setSearching(false);
    }
  };

  return (
    <section aria-labelledby="memory-title">
      <h1 id="memory-title" tabIndex={-1}>Memory</h1>
      <div className="inline-field">
        <label htmlFor="mem-namespace">Namespace</label>
        <input id="mem-namespace" value={namespace} maxLength={100} onChange={(e) => setNamespace(e.target.value)} />
      </div>
      <div className="grid-2">
        <form className="card" onSubmit={ingest} aria-labelledby="ingest-title">
          <h2 id="ingest-title">Ingest</h2>
          <label htmlFor="mem-text">Text to remember</label>
          <textarea
            id="mem-text"
            rows={6}
            required
            value={text}
            aria-describedby="mem-text-help"
            onChange={(e) => setText(e.target.value)}
          />
          <p id="mem-text-help" className="help">
            Facts are extracted from the text, embedded and stored for semantic recall.
          </p>
          <label htmlFor="mem-tags">Tags (comma separated)</label>
          <input id="mem-tags" value={tags} onChange={(e) => setTags(e.target.value)} />
          <ErrorAlert error={ingestError} />
          <button type="submit" disabled={ingesting || !text.trim()}>
            {ingesting ? "Ingesting…" : "Ingest"}
          </button>
          {ingested && (
            <div role="status" className="alert alert-ok" data-testid="ingest-result">
              Extracted {ingested.memories.length} {ingested.memories.length === 1 ? "fact" : "facts"},{" "}
              {ingested.stored} new.
              {ingested.memories.length > 0 && (
                <ul>
                  {ingested.memories.map((m) => <li key={m.id || m.text}>{m.text}</li>)}
                </ul>
              )}
            </div>
          )}
        </form>

        <div className="card">
          <form onSubmit={search} aria-labelledby="search-title">
            <h2 id="search-title">Semantic search</h2>
            <label htmlFor="mem-query">Query</label>
            <input id="mem-query" type="search" required value={query} onChange={(e) => setQuery(e.target.value)} />
            <label htmlFor="mem-limit">Results</label>
            <input
              id="mem-limit"
              type="number"
              min={1}
              max={100}
              value={limit}
              onChange={(e) => setLimit(Math.min(100, Math.max(1, Number(e.target.value) || 1)))}
            />
            <ErrorAlert error={searchError} />
            <button type="submit" disabled={searching || !query.trim()}>
              {searching ? "Searching…" : "Search"}
            </button>
          </form>
          {hits && (
            <div aria-live="polite">
              <h3>{hits.length} {hits.length === 1 ? "result" : "results"}</h3>
              <ol className="hits" data-testid="search-results">
                {hits.map((hit) => (
                  <li key={hit.id || hit.text} className="hit">
                    <p>{hit.text}</p>
                    <p className="meta">
                      {hit.score != null && <>similarity {hit.score.toFixed(3)}</>}
                      {hit.tags.length > 0 && <> · tags: {hit.tags.join(", ")}</>}
                    </p>
                  </li>
                ))}
              </ol>
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
