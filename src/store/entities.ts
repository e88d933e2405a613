import { AuditEventEntity } from './audit-event.entity';
import { ClientEntity } from './client.entity';
import { KeyScopeEntity } from './key-scope.entity';
import { KeyEntity } from './key.entity';
import { ScopeEntity } from './scope.entity';
import { UsageBucketEntity } from './usage-bucket.entity';

/** Every table's entity: what the data source maps, and what the migrations must match. */
export const ENTITIES = [ClientEntity, ScopeEntity, KeyEntity, KeyScopeEntity, AuditEventEntity, UsageBucketEntity];
