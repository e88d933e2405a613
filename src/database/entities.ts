import { AuditEventEntity } from '../audit/audit-event.entity';
import { ClientEntity } from '../clients/client.entity';
import { KeyScopeEntity } from '../keys/key-scope.entity';
import { KeyEntity } from '../keys/key.entity';
import { ScopeEntity } from '../scopes/scope.entity';
import { UsageBucketEntity } from '../usage/usage-bucket.entity';

export const ENTITIES = [ClientEntity, ScopeEntity, KeyEntity, KeyScopeEntity, AuditEventEntity, UsageBucketEntity];
