import { useState } from 'preact/hooks';
import { allPages, api, asProblem, type Client, type IssuedKey, type Key, type Problem } from '../api';
import { UsagePanel } from '../usage';
import { Confirm, Json, navigate, ProblemBox, SecretOnce, StatusChip, useLoad, when } from '../ui';
import { IssueKeyForm, KeyTable } from './keys';

interface KeyCount {
  total: number;
  live: number;
}

/** Keys per client, counted from the key list (as far as the signed-in key may read it). */
async function keyCounts(): Promise<Map<string, KeyCount> | null> {
  try {
    const keys = await allPages<Key>('/v1/keys');
    const counts = new Map<string, KeyCount>();
    for (const key of keys) {
      const c = counts.get(key.client_id) ?? { total: 0, live: 0 };
      c.total++;
      if (key.status === 'active' || key.status === 'expiring') c.live++;
      counts.set(key.client_id, c);
    }
    return counts;
  } catch {
    return null;
  }
}

export function ClientsPage() {
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState('');
  const { data, problem, reload } = useLoad(async () => {
    const [clients, counts] = await Promise.all([allPages<Client>('/v1/clients'), keyCounts()]);
    return { clients, counts };
  }, []);
  const needle = search.trim().toLowerCase();
  const shown = (data?.clients ?? []).filter(
    (c) =>
      (!status || c.status === status) &&
      (!needle ||
        c.name.toLowerCase().includes(needle) ||
        c.id.includes(needle) ||
        (c.description ?? '').toLowerCase().includes(needle)),
  );
  return (
    <>
      <h1>Clients</h1>
      <ProblemBox problem={problem} />
      <NewClient onCreated={(c) => navigate(`clients/${c.id}`)} />
      <section class="panel" aria-label="Client list">
        <div class="filters">
          <label>
            Search
            <input
              type="search"
              value={search}
              onInput={(e) => setSearch(e.currentTarget.value)}
              placeholder="name or id"
            />
          </label>
          <label>
            Status
            <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">any</option>
              <option value="active">active</option>
              <option value="suspended">suspended</option>
            </select>
          </label>
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </div>
        {data && (
          <div class="table-wrap">
            <table>
              <caption class="muted">
                {shown.length} of {data.clients.length} clients
              </caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Keys (usable / all)</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((c) => {
                  const count = data.counts?.get(c.id);
                  return (
                    <tr key={c.id}>
                      <td>
                        <a href={`#/clients/${c.id}`}>{c.name}</a>
                        {c.description && <div class="muted small">{c.description}</div>}
                      </td>
                      <td>
                        <StatusChip status={c.status} />
                      </td>
                      <td>{data.counts ? `${count?.live ?? 0} / ${count?.total ?? 0}` : '—'}</td>
                      <td>{when(c.created_at)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

function NewClient({ onCreated }: { onCreated: (c: Client) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  if (!open)
    return (
      <p>
        <button type="button" onClick={() => setOpen(true)}>
          New client
        </button>
      </p>
    );
  return (
    <section class="panel" aria-labelledby="new-client-title">
      <h2 id="new-client-title">New client</h2>
      <form
        class="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          setProblem(null);
          api<Client>('POST', '/v1/clients', {
            body: { name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) },
          }).then(onCreated, (err: unknown) => setProblem(asProblem(err)));
        }}
      >
        <label>
          Name
          <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </label>
        <label>
          Description
          <input name="description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <div class="actions">
          <button type="button" onClick={() => setOpen(false)}>
            Cancel
          </button>
          <button type="submit" class="primary">
            Create client
          </button>
        </div>
      </form>
      <ProblemBox problem={problem} />
    </section>
  );
}

export function ClientPage({ id }: { id: string }) {
  const { data, problem, reload } = useLoad(async () => {
    const [client, keys] = await Promise.all([
      api<Client>('GET', `/v1/clients/${encodeURIComponent(id)}`),
      allPages<Key>('/v1/keys', { client_id: id }).catch((err: unknown) => asProblem(err)),
    ]);
    return { client, keys };
  }, [id]);
  const [confirming, setConfirming] = useState(false);
  const [actionProblem, setActionProblem] = useState<Problem | null>(null);
  const [issued, setIssued] = useState<IssuedKey | null>(null);

  if (!data) return <ProblemBox problem={problem} />;
  const { client, keys } = data;
  const suspend = client.status === 'active';

  function setStatus() {
    setConfirming(false);
    setActionProblem(null);
    api<Client>('PATCH', `/v1/clients/${client.id}`, { body: { status: suspend ? 'suspended' : 'active' } }).then(
      reload,
      (err: unknown) => setActionProblem(asProblem(err)),
    );
  }

  return (
    <>
      <p class="crumbs">
        <a href="#/clients">Clients</a> /
      </p>
      <h1>
        {client.name} <StatusChip status={client.status} />
      </h1>
      <ProblemBox problem={problem} />
      <section class="panel" aria-labelledby="policy-title">
        <div class="panel-head">
          <h2 id="policy-title">Client and policy</h2>
          <button type="button" class={suspend ? 'danger' : 'primary'} onClick={() => setConfirming(true)}>
            {suspend ? 'Suspend client' : 'Reactivate client'}
          </button>
        </div>
        <ProblemBox problem={actionProblem} />
        <dl class="facts">
          <dt>Id</dt>
          <dd>
            <code>{client.id}</code>
          </dd>
          <dt>Description</dt>
          <dd>{client.description || '—'}</dd>
          <dt>Allowed scopes</dt>
          <dd>{client.allowed_scopes.length ? client.allowed_scopes.join(', ') : 'no ceiling of its own'}</dd>
          <dt>Created</dt>
          <dd>{when(client.created_at)}</dd>
          <dt>Metadata</dt>
          <dd>
            <Json value={client.metadata} />
          </dd>
        </dl>
      </section>
      {confirming && (
        <Confirm
          title={suspend ? `Suspend ${client.name}?` : `Reactivate ${client.name}?`}
          confirmLabel={suspend ? 'Suspend' : 'Reactivate'}
          danger={suspend}
          onConfirm={setStatus}
          onCancel={() => setConfirming(false)}
        >
          <p>
            {suspend
              ? 'Every key of this client stops working at once, until the client is reactivated.'
              : 'The client’s keys work again (those not revoked or expired).'}
          </p>
        </Confirm>
      )}
      {issued && <SecretOnce secret={issued.key} name={issued.name} onDismiss={() => setIssued(null)} />}
      <IssueKeyForm
        clientId={client.id}
        onIssued={(key) => {
          setIssued(key);
          reload();
        }}
      />
      <section class="panel" aria-labelledby="client-keys-title">
        <h2 id="client-keys-title">Keys</h2>
        {Array.isArray(keys) ? (
          <KeyTable keys={keys} suspended={new Set(suspend ? [] : [client.id])} />
        ) : (
          <ProblemBox problem={keys} />
        )}
      </section>
      <UsagePanel path={`/v1/clients/${client.id}/usage`} title="Usage of the client's keys" />
    </>
  );
}
