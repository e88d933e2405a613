import { useState } from 'preact/hooks';
import { allPages, api, asProblem, type Client, type IssuedKey, type Key, type Problem } from '../api';
import { RotationPanel, UsagePanel } from '../usage';
import { Confirm, Json, keyChip, navigate, ProblemBox, SecretOnce, StatusChip, useLoad, when } from '../ui';

const DAY = 86_400_000;
const IDLE_DAYS = 30;
const SOON_DAYS = 7;

/** Not used in the last 30 days (a key never used: made more than 30 days ago). */
function idle(key: Key, now: number): boolean {
  return now - Date.parse(key.last_used_at ?? key.created_at) > IDLE_DAYS * DAY;
}

/** Still usable, and ends (expiry or grace period) within a week. */
function expiringSoon(key: Key, now: number): boolean {
  if (key.status === 'expired' || key.status === 'revoked') return false;
  const ends = [key.expires_at, key.grace_ends_at].filter(Boolean).map((t) => Date.parse(t!));
  return ends.some((t) => t - now < SOON_DAYS * DAY);
}

export function KeyTable({
  keys,
  suspended,
  clients,
}: {
  keys: Key[];
  suspended: Set<string>;
  clients?: Map<string, Client>;
}) {
  if (keys.length === 0) return <p class="muted">No keys.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Env</th>
            {clients && <th scope="col">Client</th>}
            <th scope="col">Hint</th>
            <th scope="col">Scopes</th>
            <th scope="col">Last used</th>
            <th scope="col">Expires</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id}>
              <td>
                <a href={`#/keys/${k.id}`}>{k.name}</a>
              </td>
              <td>
                <StatusChip status={keyChip(k, suspended.has(k.client_id))} />
              </td>
              <td>{k.environment}</td>
              {clients && (
                <td>
                  <a href={`#/clients/${k.client_id}`}>{clients.get(k.client_id)?.name ?? k.client_id.slice(0, 8)}</a>
                </td>
              )}
              <td>
                <code>{k.hint}</code>
              </td>
              <td>{k.scopes.join(', ') || '—'}</td>
              <td>{when(k.last_used_at)}</td>
              <td>{when(k.grace_ends_at ?? k.expires_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function KeysPage() {
  const [environment, setEnvironment] = useState('');
  const [status, setStatus] = useState('');
  const [onlyIdle, setOnlyIdle] = useState(false);
  const [soon, setSoon] = useState(false);
  const serverStatus = status === 'disabled' ? '' : status;
  const { data, problem, reload } = useLoad(async () => {
    const [keys, clients] = await Promise.all([
      allPages<Key>('/v1/keys', { environment, status: serverStatus }),
      allPages<Client>('/v1/clients').catch(() => [] as Client[]),
    ]);
    return { keys, clients: new Map(clients.map((c) => [c.id, c])) };
  }, [environment, serverStatus]);
  const now = Date.now();
  const suspended = new Set(
    [...(data?.clients.values() ?? [])].filter((c) => c.status === 'suspended').map((c) => c.id),
  );
  const shown = (data?.keys ?? []).filter(
    (k) =>
      (status !== 'disabled' || keyChip(k, suspended.has(k.client_id)) === 'disabled') &&
      (!onlyIdle || idle(k, now)) &&
      (!soon || expiringSoon(k, now)),
  );
  return (
    <>
      <h1>Keys</h1>
      <section class="panel" aria-label="Key list">
        <div class="filters">
          <label>
            Environment
            <select value={environment} onChange={(e) => setEnvironment(e.currentTarget.value)}>
              <option value="">any</option>
              <option value="live">live</option>
              <option value="test">test</option>
            </select>
          </label>
          <label>
            Status
            <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">any</option>
              <option value="active">active</option>
              <option value="expiring">expiring</option>
              <option value="expired">expired</option>
              <option value="revoked">revoked</option>
              <option value="disabled">disabled (client suspended)</option>
            </select>
          </label>
          <label class="check">
            <input type="checkbox" checked={onlyIdle} onChange={(e) => setOnlyIdle(e.currentTarget.checked)} />
            Idle ({IDLE_DAYS} days)
          </label>
          <label class="check">
            <input type="checkbox" checked={soon} onChange={(e) => setSoon(e.currentTarget.checked)} />
            Expiring within {SOON_DAYS} days
          </label>
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </div>
        <ProblemBox problem={problem} />
        {data && (
          <>
            <p class="muted">
              {shown.length} of {data.keys.length} keys
            </p>
            <KeyTable keys={shown} suspended={suspended} clients={data.clients} />
          </>
        )}
      </section>
    </>
  );
}

export function IssueKeyForm({ clientId, onIssued }: { clientId: string; onIssued: (key: IssuedKey) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [environment, setEnvironment] = useState<'live' | 'test'>('live');
  const [scopes, setScopes] = useState('');
  const [ttlDays, setTtlDays] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  function issue() {
    setConfirming(false);
    setProblem(null);
    const body: Record<string, unknown> = {
      name: name.trim(),
      environment,
      scopes: scopes
        .split(/[\s,]+/)
        .map((s) => s.trim())
        .filter(Boolean),
    };
    if (ttlDays.trim()) body.ttl_seconds = Math.round(Number(ttlDays) * 86_400);
    api<IssuedKey>('POST', `/v1/clients/${clientId}/keys`, { body }).then(
      (key) => {
        setOpen(false);
        setName('');
        setScopes('');
        setTtlDays('');
        onIssued(key);
      },
      (err: unknown) => setProblem(asProblem(err)),
    );
  }

  if (!open)
    return (
      <p>
        <button type="button" class="primary" onClick={() => setOpen(true)}>
          Issue a key
        </button>
      </p>
    );
  return (
    <section class="panel" aria-labelledby="issue-title">
      <h2 id="issue-title">Issue a key</h2>
      <form
        class="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          setConfirming(true);
        }}
      >
        <label>
          Name
          <input name="key-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label>
          Environment
          <select value={environment} onChange={(e) => setEnvironment(e.currentTarget.value as 'live' | 'test')}>
            <option value="live">live</option>
            <option value="test">test</option>
          </select>
        </label>
        <label>
          Scopes (comma separated)
          <input
            name="scopes"
            value={scopes}
            onInput={(e) => setScopes(e.currentTarget.value)}
            placeholder="orders:read"
          />
        </label>
        <label>
          Lifetime in days (empty: no expiry)
          <input name="ttl" inputMode="numeric" value={ttlDays} onInput={(e) => setTtlDays(e.currentTarget.value)} />
        </label>
        <div class="actions">
          <button type="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Issue key
          </button>
        </div>
      </form>
      <ProblemBox problem={problem} />
      {confirming && (
        <Confirm
          title={`Issue key "${name.trim()}"?`}
          confirmLabel="Issue"
          onConfirm={issue}
          onCancel={() => setConfirming(false)}
        >
          <p>
            A new {environment} key is made and shown once. Scopes: {scopes.trim() || 'none'}.
          </p>
        </Confirm>
      )}
    </section>
  );
}

const GRACE_CHOICES = [
  { seconds: 0, label: 'none: the old key ends now' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 7 * 86_400, label: '7 days' },
  { seconds: 30 * 86_400, label: '30 days' },
];

export function KeyPage({ id }: { id: string }) {
  const { data, problem, reload } = useLoad(async () => {
    const key = await api<Key>('GET', `/v1/keys/${encodeURIComponent(id)}`);
    const other = key.replaced_by ?? key.replaces;
    const related = other ? await api<Key>('GET', `/v1/keys/${other}`).catch(() => null) : null;
    const client = await api<Client>('GET', `/v1/clients/${key.client_id}`).catch(() => null);
    return { key, related, client };
  }, [id]);
  const [action, setAction] = useState<'rotate' | 'revoke' | null>(null);
  const [grace, setGrace] = useState(3600);
  const [reason, setReason] = useState('');
  const [actionProblem, setActionProblem] = useState<Problem | null>(null);
  const [issued, setIssued] = useState<IssuedKey | null>(null);

  if (!data) return <ProblemBox problem={problem} />;
  const { key, related, client } = data;
  const ended = key.status === 'revoked' || key.status === 'expired';

  function rotate() {
    setAction(null);
    setActionProblem(null);
    api<IssuedKey>('POST', `/v1/keys/${key.id}/rotate`, { body: { grace_period_seconds: grace } }).then(
      (successor) => {
        setIssued(successor);
        reload();
      },
      (err: unknown) => setActionProblem(asProblem(err)),
    );
  }

  function revoke() {
    setAction(null);
    setActionProblem(null);
    api<Key>('POST', `/v1/keys/${key.id}/revoke`, { body: reason.trim() ? { reason: reason.trim() } : {} }).then(
      () => {
        setReason('');
        reload();
      },
      (err: unknown) => setActionProblem(asProblem(err)),
    );
  }

  const older = key.replaced_by ? key : related;
  const newer = key.replaced_by ? related : key;

  return (
    <>
      <p class="crumbs">
        <a href="#/keys">Keys</a> / {client && <a href={`#/clients/${client.id}`}>{client.name}</a>}
      </p>
      <h1>
        {key.name} <StatusChip status={keyChip(key, client?.status === 'suspended')} />
      </h1>
      {issued && (
        <SecretOnce
          secret={issued.key}
          name={issued.name}
          onDismiss={() => {
            const next = issued.id;
            setIssued(null);
            navigate(`keys/${next}`);
          }}
        />
      )}
      <section class="panel" aria-labelledby="key-title">
        <div class="panel-head">
          <h2 id="key-title">Key</h2>
          <button type="button" onClick={() => setAction('rotate')} disabled={ended}>
            Rotate
          </button>
          <button type="button" class="danger" onClick={() => setAction('revoke')} disabled={key.status === 'revoked'}>
            Revoke
          </button>
        </div>
        <ProblemBox problem={actionProblem} />
        <dl class="facts">
          <dt>Id</dt>
          <dd>
            <code>{key.id}</code>
          </dd>
          <dt>Hint</dt>
          <dd>
            <code>{key.hint}</code> ({key.environment})
          </dd>
          <dt>Scopes</dt>
          <dd>{key.scopes.join(', ') || '—'}</dd>
          <dt>Created</dt>
          <dd>{when(key.created_at)}</dd>
          <dt>Expires</dt>
          <dd>{when(key.expires_at)}</dd>
          <dt>Last used</dt>
          <dd>{when(key.last_used_at)}</dd>
          {key.grace_ends_at && (
            <>
              <dt>Grace period ends</dt>
              <dd>{when(key.grace_ends_at)}</dd>
            </>
          )}
          {key.replaced_by && (
            <>
              <dt>Replaced by</dt>
              <dd>
                <a href={`#/keys/${key.replaced_by}`}>{related?.name ?? key.replaced_by}</a>
              </dd>
            </>
          )}
          {key.replaces && (
            <>
              <dt>Replaces</dt>
              <dd>
                <a href={`#/keys/${key.replaces}`}>{related?.name ?? key.replaces}</a>
              </dd>
            </>
          )}
          {key.revoked_at && (
            <>
              <dt>Revoked</dt>
              <dd>
                {when(key.revoked_at)}: {key.revoked_reason}
              </dd>
            </>
          )}
          <dt>Metadata</dt>
          <dd>
            <Json value={key.metadata} />
          </dd>
        </dl>
      </section>
      {action === 'rotate' && (
        <Confirm
          title={`Rotate "${key.name}"?`}
          confirmLabel="Rotate"
          onConfirm={rotate}
          onCancel={() => setAction(null)}
        >
          <p>A successor key is made and shown once. The old key keeps working for the grace period.</p>
          <label>
            Grace period
            <select value={grace} onChange={(e) => setGrace(Number(e.currentTarget.value))}>
              {GRACE_CHOICES.map((g) => (
                <option key={g.seconds} value={g.seconds}>
                  {g.label}
                </option>
              ))}
            </select>
          </label>
        </Confirm>
      )}
      {action === 'revoke' && (
        <Confirm
          title={`Revoke "${key.name}"?`}
          confirmLabel="Revoke"
          danger
          onConfirm={revoke}
          onCancel={() => setAction(null)}
        >
          <p>The key stops working at once, everywhere. This cannot be undone.</p>
          <label>
            Reason
            <input
              name="reason"
              value={reason}
              maxLength={500}
              onInput={(e) => setReason(e.currentTarget.value)}
              placeholder="compromised"
            />
          </label>
        </Confirm>
      )}
      {older && newer && <RotationPanel older={older} newer={newer} />}
      <UsagePanel path={`/v1/keys/${key.id}/usage`} title="Usage of this key" />
    </>
  );
}
