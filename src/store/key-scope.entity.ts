import { Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ScopeEntity } from './scope.entity';
import { KeyEntity } from './key.entity';

/** A scope held by a key. The catalog cannot drop a scope while a key holds it. */
@Entity('key_scopes')
@Index('idx_key_scopes_scope', ['scopeName'])
export class KeyScopeEntity {
  @PrimaryColumn({ name: 'key_id', type: 'uuid' })
  keyId!: string;

  @PrimaryColumn({ name: 'scope_name', type: 'varchar', length: 128 })
  scopeName!: string;

  @ManyToOne(() => KeyEntity, (key) => key.scopeLinks, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'key_id' })
  key?: KeyEntity;

  @ManyToOne(() => ScopeEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'scope_name' })
  scope?: ScopeEntity;
}
