import { errorMessage } from "../lib/errors";

/** An API (or other) error in words, announced to screen readers. */
export function ErrorAlert({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (error == null) return null;
  return (
    <div className="alert alert-error" role="alert">
      <span className="alert-text">{errorMessage(error)}</span>
      {onDismiss && (
        <button type="button" className="link-button" onClick={onDismiss} aria-label="Dismiss error">
          Dismiss
        </button>
      )}
    </div>
  );
}
