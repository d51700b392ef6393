import { useState, type FormEvent } from "react";
import { ErrorAlert } from "../components/ErrorAlert";
import type { ApiClient } from "../lib/api";

interface Props {
  client: ApiClient;
  onLogin: (token: string, user?: { username?: string; is_admin?: boolean }) => void;
  notice: string | null;
}

export function LoginPage({ client, onLogin, notice }: Props) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await client.login(username.trim(), password);
      onLogin(result.access_token, result.user);
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };

  return (
    <section className="login card" aria-labelledby="login-title">
      <h1 id="login-title" tabIndex={-1}>Log in to AIWFE</h1>
      {notice && <p className="alert alert-info" role="status">{notice}</p>}
      <form onSubmit={submit} noValidate={false}>
        <label htmlFor="login-username">User name</label>
        <input
          id="login-username"
          name="username"
          autoComplete="username"
          required
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <label htmlFor="login-password">Password</label>
        <input
          id="login-password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <ErrorAlert error={error} />
        <button type="submit" disabled={busy || !username.trim() || !password}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </section>
  );
}
