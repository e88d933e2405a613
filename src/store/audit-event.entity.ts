import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One state change, append-only, chained to the one before it by `prevHash`. */
@Entity('audit_events')
@Index('idx_audit_events_action', ['action', 'id'])
@Index('idx_audit_events_target', ['targetId', 'id'])
@Index('idx_audit_events_actor', ['actorKeyId', 'id'])
@Index('idx_audit_events_client', ['clientId', 'id'])
export class AuditEventEntity {
  /** Position in the chain; bigint, read as a string. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  @Column({ name: 'actor_key_id', type: 'uuid', nullable: true })
  actorKeyId!: string | null;

  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Column({ name: 'target_type', type: 'varchar', length: 32 })
  targetType!: string;

  @Column({ name: 'target_id', type: 'varchar', length: 128 })
  targetId!: string;

  /** The client the target belongs to, so a client's own admin keys see its own trail. */
  @Column({ name: 'client_id', type: 'uuid', nullable: true })
  clientId!: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  @Column({ name: 'source_ip', type: 'varchar', length: 64, nullable: true })
  sourceIp!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  changes!: Record<string, unknown>;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash!: string;

  @Column({ type: 'char', length: 64 })
  hash!: string;
}
