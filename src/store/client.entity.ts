import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const CLIENT_STATUSES = ['active', 'suspended'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

@Entity('clients')
@Check('chk_clients_status', `status IN ('active', 'suspended')`)
@Index('idx_clients_created_id', ['createdAt', 'id'])
// At most one system client; the migration SystemClientAndAdminScopes creates it.
@Index('uq_clients_single_system', ['isSystem'], { unique: true, where: '"is_system"' })
export class ClientEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  @Column({ type: 'varchar', length: 16, default: 'active' })
  status!: ClientStatus;

  /** The one client that holds the operators' root keys. */
  @Column({ name: 'is_system', type: 'boolean', default: false })
  isSystem!: boolean;

  /**
   * The ceiling on every key of this client: catalogued scopes or `:*` wildcards. Empty
   * means no ceiling of its own (a non-root granter is still held to its own scopes).
   */
  @Column({ name: 'allowed_scopes', type: 'text', array: true, default: () => "'{}'" })
  allowedScopes!: string[];

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata!: Record<string, unknown>;

  /** Milliseconds, as the API reports it, so a keyset cursor carries the exact value (and updated_at, so it is never earlier). */
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
