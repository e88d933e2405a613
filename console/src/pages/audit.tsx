import { useEffect, useState } from 'preact/hooks';
import { api, asProblem, type AuditEvent, type ChainVerification, type Page, type Problem } from '../api';
import { ProblemBox, when } from '../ui';

interface Filters {
  action: string;
  actor: string;
  target: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { action: '', actor: '', target: '', from: '', to: '' };
const ACTIONS = [
  'client.created',
  'client.updated',
  'client.suspended',
  'client.reactivated',
  'key.issued',
  'key.updated',
  'key.rotated',
  'key.revoked',
  'key.leak_reported',
  'scope.created',
  'scope.deleted',
];

/** A datetime-local value (no zone) read as UTC, as the API takes it. */
function utc(value: string): string | undefined {
  return value ? new Date(`${value}:00Z`).toISOString() : undefined;
}

/** A change `{from, to}` per field, as the trail records it; anything else as it is. */
function Diff({ changes }: { changes: Record<string, unknown> }) {
  const entries = Object.entries(changes);
  if (entries.length === 0) return <p class="muted">No fields recorded.</p>;
  return (
    <table class="diff">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([field, change]) => {
          const pair =
            change && typeof change === 'object' && 'from' in change && 'to' in change
              ? change
              : { from: undefined, to: change };
          return (
            <tr key={field}>
              <th scope="row">{field}</th>
              <td class="before">{pair.from === undefined ? '' : JSON.stringify(pair.from)}</td>
              <td class="after">{JSON.stringify(pair.to)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [verification, setVerification] = useState<ChainVerification | null>(null);
  const [verifyProblem, setVerifyProblem] = useState<Problem | null>(null);
  const [verifying, setVerifying] = useState(false);

  function load(filters: Filters, after: string | null) {
    setProblem(null);
    api<Page<AuditEvent>>('GET', '/v1/audit-events', {
      query: {
        limit: 50,
        action: filters.action,
        actor: filters.actor.trim(),
        target: filters.target.trim(),
        from: utc(filters.from),
        to: utc(filters.to),
        cursor: after,
      },
    }).then(
      (page) => {
        setEvents((prev) => (after && prev ? [...prev, ...page.data] : page.data));
        setCursor(page.next_cursor);
      },
      (err: unknown) => setProblem(asProblem(err)),
    );
  }

  useEffect(() => load(EMPTY, null), []);

  function verify() {
    setVerifying(true);
    setVerification(null);
    setVerifyProblem(null);
    api<ChainVerification>('GET', '/v1/audit-events/verify')
      .then(setVerification, (err: unknown) => setVerifyProblem(asProblem(err)))
      .finally(() => setVerifying(false));
  }

  const field = (name: keyof Filters) => ({
    value: draft[name],
    onInput: (e: Event) => setDraft({ ...draft, [name]: (e.currentTarget as HTMLInputElement).value }),
  });

  return (
    <>
      <h1>Audit trail</h1>
      <section class="panel" aria-labelledby="verify-title">
        <div class="panel-head">
          <h2 id="verify-title">Hash chain</h2>
          <button type="button" class="primary" onClick={verify} disabled={verifying}>
            {verifying ? 'Verifying…' : 'Verify the chain'}
          </button>
        </div>
        <div aria-live="polite" data-testid="verify-result">
          {verification &&
            (verification.ok ? (
              <p class="ok">
                The chain is intact: {verification.checked} events checked
                {verification.head_id ? `, head ${verification.head_id}` : ''}.
              </p>
            ) : (
              <p class="bad">
                The chain is broken ({verification.problem}) at event {verification.broken_at}, after{' '}
                {verification.checked} events checked.
              </p>
            ))}
        </div>
        <ProblemBox problem={verifyProblem} />
      </section>
      <section class="panel" aria-label="Audit events">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            load(draft, null);
          }}
        >
          <label>
            Action
            <select value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.currentTarget.value })}>
              <option value="">any</option>
              {ACTIONS.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </label>
          <label>
            Actor key id
            <input name="actor" {...field('actor')} />
          </label>
          <label>
            Target id
            <input name="target" {...field('target')} />
          </label>
          <label>
            From (UTC)
            <input type="datetime-local" name="from" {...field('from')} />
          </label>
          <label>
            To (UTC)
            <input type="datetime-local" name="to" {...field('to')} />
          </label>
          <button type="submit" class="primary">
            Apply filters
          </button>
        </form>
        <ProblemBox problem={problem} />
        {events && events.length === 0 && <p class="muted">No events.</p>}
        {events && events.length > 0 && (
          <ol class="events">
            {events.map((e) => (
              <li key={e.id} class="event">
                <details>
                  <summary>
                    <span class="event-action">{e.action}</span> <span class="muted">{when(e.occurred_at)}</span>{' '}
                    <span class="muted">
                      {e.target_type} {e.target_id}
                    </span>
                  </summary>
                  <dl class="facts">
                    <dt>Actor key</dt>
                    <dd>
                      <code>{e.actor_key_id ?? '—'}</code>
                    </dd>
                    <dt>Client</dt>
                    <dd>{e.client_id ? <a href={`#/clients/${e.client_id}`}>{e.client_id}</a> : '—'}</dd>
                    <dt>From</dt>
                    <dd>{e.source_ip ?? '—'}</dd>
                    <dt>Request</dt>
                    <dd>
                      <code>{e.request_id}</code>
                    </dd>
                    <dt>Hash</dt>
                    <dd>
                      <code class="hash">{e.hash}</code>
                    </dd>
                  </dl>
                  <Diff changes={e.changes} />
                </details>
              </li>
            ))}
          </ol>
        )}
        {cursor && (
          <button type="button" onClick={() => load(draft, cursor)}>
            Older events
          </button>
        )}
      </section>
    </>
  );
}
