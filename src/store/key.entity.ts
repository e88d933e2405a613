import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  OneToMany,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { ClientEntity } from './client.entity';
import type { KeyEnvironment } from '../common/key-environment';
import { KeyScopeEntity } from './key-scope.entity';

@Entity('api_keys')
@Check('chk_api_keys_environment', `environment IN ('live', 'test')`)
@Check('chk_api_keys_remaining', `remaining IS NULL OR remaining >= 0`)
@Check('chk_api_keys_rate_limit', `(rate_limit IS NULL) = (rate_window_seconds IS NULL)`)
@Index('idx_api_keys_created_id', ['createdAt', 'id'])
@Index('idx_api_keys_client_created_id', ['clientId', 'createdAt', 'id'])
export class KeyEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'client_id', type: 'uuid' })
  clientId!: string;

  @ManyToOne(() => ClientEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'client_id' })
  client?: ClientEntity;

  @Column({ type: 'varchar', length: 4 })
  environment!: KeyEnvironment;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  /** HMAC-SHA-256 of the full key, hex. Selected only by the lookups that need it. */
  @Index('uq_api_keys_digest', { unique: true })
  @Column({ type: 'char', length: 64, select: false })
  digest!: string;

  /** The id of the KEY_HASH_SECRETS entry the digest was made with (`initial`: KEY_HASH_SECRET's). */
  @Index('idx_api_keys_digest_secret')
  @Column({ name: 'digest_secret', type: 'varchar', length: 32 })
  digestSecret!: string;

  @Column({ type: 'varchar', length: 32 })
  hint!: string;

  @OneToMany(() => KeyScopeEntity, (ks) => ks.key, { cascade: ['insert'] })
  scopeLinks?: KeyScopeEntity[];

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 500, nullable: true })
  revokedReason!: string | null;

  @Column({ type: 'uuid', nullable: true })
  replaces!: string | null;

  @Index('uq_api_keys_replaced_by', { unique: true, where: 'replaced_by IS NOT NULL' })
  @Column({ name: 'replaced_by', type: 'uuid', nullable: true })
  replacedBy!: string | null;

  @Column({ name: 'grace_ends_at', type: 'timestamptz', nullable: true })
  graceEndsAt!: Date | null;

  @Column({ name: 'rate_limit', type: 'integer', nullable: true })
  rateLimit!: number | null;

  @Column({ name: 'rate_window_seconds', type: 'integer', nullable: true })
  rateWindowSeconds!: number | null;

  @Column({ name: 'ip_allowlist', type: 'text', array: true, default: () => "'{}'" })
  ipAllowlist!: string[];

  @Column({ name: 'usage_limit', type: 'integer', nullable: true })
  usageLimit!: number | null;

  /** Uses left under the usage limit; decremented atomically on each good call. */
  @Column({ type: 'integer', nullable: true })
  remaining!: number | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata!: Record<string, unknown>;

  /** Milliseconds, as the API reports it, so a keyset cursor carries the exact value (and updated_at, so it is never earlier). */
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
