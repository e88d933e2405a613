import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity('scopes')
export class ScopeEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
