import { Module } from '@nestjs/common';
import { DatabasePool } from '../database/raw-pool';
import { Transactions } from '../database/transactions';
import { AuditEventsRepository } from './audit-events.repository';
import { ClientsRepository } from './clients.repository';
import { KeysRepository } from './keys.repository';
import { PoolGauges } from './pool-gauges';
import { ScopesRepository } from './scopes.repository';
import { UsageRepository } from './usage.repository';

const REPOSITORIES = [KeysRepository, ClientsRepository, ScopesRepository, AuditEventsRepository, UsageRepository];

/** One repository per table, the transactions they run in, and the raw pool: the only way to the database. */
@Module({
  providers: [DatabasePool, Transactions, PoolGauges, ...REPOSITORIES],
  exports: [DatabasePool, Transactions, ...REPOSITORIES],
})
export class StoreModule {}
