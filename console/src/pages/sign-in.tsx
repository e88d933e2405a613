import { useState } from 'preact/hooks';
import { api, asProblem, type Page, type Client, type Problem } from '../api';
import { ProblemBox } from '../ui';

/**
 * Sign-in by pasting a key: a root key, or a client's key with admin scopes (which then sees
 * only its own client, as the API answers it). The key is checked with one list call; a key
 * the API refuses is not kept.
 */
export function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    const key = value.trim();
    if (!key) return;
    setBusy(true);
    setProblem(null);
    try {
      await api<Page<Client>>('GET', '/v1/clients', { query: { limit: 1 }, withKey: key });
      setValue('');
      onSignedIn(key);
    } catch (err) {
      const p = asProblem(err);
      // A 403 is a good key without the scope to list clients: it may still manage keys or read the audit trail.
      if (p.status === 403) {
        setValue('');
        onSignedIn(key);
      } else setProblem(p);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="panel sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Keyhouse console</h1>
      <p>
        Sign in with a Keyhouse key: a root key, or a client's key with admin scopes, which sees only its own client.
        The key stays in this browser tab (session storage) until you sign out or close the tab.
      </p>
      <form onSubmit={(e) => void submit(e)}>
        <label for="sign-in-key">API key</label>
        <input
          id="sign-in-key"
          name="key"
          type="password"
          autoComplete="off"
          spellcheck={false}
          placeholder="sk_live_…"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
          required
        />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <ProblemBox problem={problem} />
    </section>
  );
}
