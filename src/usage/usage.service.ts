import { Injectable } from '@nestjs/common';
import { Actor, ownClientOnly } from '../auth/actor';
import { ClientNotFound } from '../clients/clients.service';
import { BadInput } from '../common/errors';
import { parseTimestamp, TIMESTAMP_RANGE } from '../common/validators';
import { KeyNotFound } from '../keys/key.errors';
import { ClientsRepository } from '../store/clients.repository';
import { KeysRepository } from '../store/keys.repository';
import { CountRow, UsageRepository } from '../store/usage.repository';
import { Granularity, UsageQueryDto } from './dto/usage-query.dto';
import { ClientUsageResponse, KeyUsageResponse, KeyUsageSummary, UsageBucket, UsageCounts } from './dto/usage.response';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BUCKET_MS: Record<Granularity, number> = { hour: HOUR, day: DAY };
/** The longest range per granularity: 744 hour buckets, 366 day buckets. */
export const MAX_RANGE_MS: Record<Granularity, number> = { hour: 31 * DAY, day: 366 * DAY };
const DEFAULT_RANGE_MS: Record<Granularity, number> = { hour: DAY, day: 30 * DAY };

interface Range {
  granularity: Granularity;
  from: Date;
  to: Date;
}

/** Reads the hourly usage counts the hot path flushes, per key or summed over a client's keys. */
@Injectable()
export class UsageService {
  constructor(
    private readonly usage: UsageRepository,
    private readonly keys: KeysRepository,
    private readonly clients: ClientsRepository,
  ) {}

  async ofKey(id: string, query: UsageQueryDto, actor: Actor): Promise<KeyUsageResponse> {
    const range = resolveRange(query);
    const own = ownClientOnly(actor);
    const key = await this.keys.findById(id, { clientId: own });
    if (!key) throw new KeyNotFound();
    const rows = await this.usage.countsOfKey(id, range.from, range.to, range.granularity);
    return { key_id: id, ...rangeOut(range), last_used_at: iso(key.lastUsedAt), ...bucketsOf(rows) };
  }

  async ofClient(id: string, query: UsageQueryDto, actor: Actor): Promise<ClientUsageResponse> {
    const range = resolveRange(query);
    const own = ownClientOnly(actor);
    if (own && own !== id) throw new ClientNotFound();
    if (!(await this.clients.exists(id))) throw new ClientNotFound();
    const [{ buckets, perKey }, lastUsedAt] = await Promise.all([
      this.usage.countsOfClient(id, range.from, range.to, range.granularity),
      this.keys.lastUsedOfClient(id),
    ]);
    return {
      client_id: id,
      ...rangeOut(range),
      last_used_at: iso(lastUsedAt),
      ...bucketsOf(buckets),
      keys: await this.keySummaries(perKey),
    };
  }

  private async keySummaries(rows: CountRow[]): Promise<KeyUsageSummary[]> {
    const totals = new Map<string, UsageCounts>();
    for (const row of rows) add(totals, row.key_id!, row);
    if (totals.size === 0) return [];
    const keys = await this.keys.findByIds([...totals.keys()]);
    return keys
      .map((k) => ({
        key_id: k.id,
        name: k.name,
        hint: k.hint,
        last_used_at: iso(k.lastUsedAt),
        totals: totals.get(k.id)!,
      }))
      .sort((a, b) => b.totals.total - a.totals.total || (a.key_id < b.key_id ? -1 : 1));
  }
}

/**
 * The range asked for, checked and widened to whole buckets. `from` defaults to a
 * day (hour buckets) or 30 days (day buckets) before `to`, which defaults to now.
 */
export function resolveRange(query: UsageQueryDto, now = Date.now()): Range {
  const granularity = query.granularity ?? 'hour';
  const to = query.to !== undefined ? parseInstant(query.to, 'to') : now;
  const from = query.from !== undefined ? parseInstant(query.from, 'from') : to - DEFAULT_RANGE_MS[granularity];
  if (from >= to) throw rangeError('from', 'from must be before to');
  if (to - from > MAX_RANGE_MS[granularity]) {
    const days = MAX_RANGE_MS[granularity] / DAY;
    throw rangeError('to', `with granularity=${granularity}, from and to may be at most ${days} days apart`);
  }
  const size = BUCKET_MS[granularity];
  return { granularity, from: new Date(Math.floor(from / size) * size), to: new Date(Math.ceil(to / size) * size) };
}

/** The instant of a date-time the DTO has checked (see `parseTimestamp`); checked again, for callers other than the pipe. */
function parseInstant(value: string, field: string): number {
  const at = parseTimestamp(value);
  if (at === null) throw rangeError(field, `${field} must be an RFC 3339 date-time from ${TIMESTAMP_RANGE}`);
  return at;
}

function rangeError(field: string, detail: string): BadInput {
  return new BadInput('The usage range is not valid.', { errors: [{ pointer: `query/${field}`, detail }] });
}

function rangeOut(range: Range) {
  return { granularity: range.granularity, from: range.from.toISOString(), to: range.to.toISOString() };
}

function add(into: Map<string, UsageCounts>, key: string, row: CountRow): void {
  const counts = into.get(key) ?? { total: 0, outcomes: {} };
  const n = Number(row.count);
  counts.total += n;
  counts.outcomes[row.outcome] = (counts.outcomes[row.outcome] ?? 0) + n;
  into.set(key, counts);
}

function bucketsOf(rows: CountRow[]): { totals: UsageCounts; buckets: UsageBucket[] } {
  const byStart = new Map<string, UsageCounts>();
  const totals = new Map<string, UsageCounts>();
  for (const row of rows) {
    add(byStart, new Date(row.start!).toISOString(), row);
    add(totals, 'all', row);
  }
  return {
    totals: totals.get('all') ?? { total: 0, outcomes: {} },
    buckets: [...byStart].map(([start, counts]) => ({ start, ...counts })),
  };
}

function iso(d: Date | null): string | null {
  return d ? new Date(d).toISOString() : null;
}
