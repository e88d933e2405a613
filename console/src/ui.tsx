import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { asProblem, type Key, type Problem } from './api';

/** A problem's detail, as the API wrote it: the console never shows a blank page for an error. */
export function ProblemBox({ problem }: { problem: Problem | null }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.status ? `${problem.status} ${problem.title}` : problem.title}</strong>
      <p class="problem-detail">{problem.detail}</p>
      {typeof problem.body.request_id === 'string' && <p class="muted">Request id: {problem.body.request_id}</p>}
    </div>
  );
}

/** Runs `load` on mount and whenever `deps` change; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setLoading(true);
    load().then(
      (value) => {
        if (!current) return;
        setData(value);
        setProblem(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (!current) return;
        setProblem(asProblem(err));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return { data, problem, loading, reload: () => setRound((r) => r + 1) };
}

/** The status a key is shown with: the API's, or `disabled` while its client is suspended. */
export type Chip = Key['status'] | 'disabled';

export function keyChip(key: Key, clientSuspended: boolean): Chip {
  if (clientSuspended && (key.status === 'active' || key.status === 'expiring')) return 'disabled';
  return key.status;
}

export function StatusChip({ status }: { status: string }) {
  return <span class={`chip chip-${status}`}>{status}</span>;
}

/** A modal confirmation (a native <dialog>: focus stays inside, Escape cancels). */
export function Confirm(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="confirm-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          props.onConfirm();
        }}
      >
        <h2 id="confirm-title">{props.title}</h2>
        <div>{props.children}</div>
        <div class="actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class={props.danger ? 'danger' : 'primary'}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/**
 * A newly made key's secret, shown once: a copy button and a warning. Dismissing it calls
 * `onDismiss`, whose owner drops the secret from its state, so it is no longer in the page.
 */
export function SecretOnce({ secret, name, onDismiss }: { secret: string; name: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  return (
    <section class="secret" aria-labelledby="secret-title">
      <h2 id="secret-title">Key "{name}" was created</h2>
      <p class="warning" role="note">
        Copy this key now and store it safely. It is shown once: Keyhouse keeps only its hash, and it cannot be shown
        again.
      </p>
      <div class="secret-row">
        <code class="secret-value" data-testid="secret">
          {secret}
        </code>
        <button
          type="button"
          onClick={() => {
            navigator.clipboard.writeText(secret).then(
              () => setCopied('Copied to the clipboard.'),
              () => setCopied('The browser refused the clipboard: select the key and copy it.'),
            );
          }}
        >
          Copy
        </button>
      </div>
      <p aria-live="polite" class="muted">
        {copied}
      </p>
      <button type="button" class="primary" onClick={onDismiss}>
        I have stored the key
      </button>
    </section>
  );
}

export function when(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/** Metadata and other JSON as text in a <pre>: nothing in it is read as markup. */
export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function navigate(path: string): void {
  window.location.hash = `#/${path}`;
}
