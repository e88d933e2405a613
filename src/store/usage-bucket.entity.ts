import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Calls of one key in one hour with one outcome. */
@Entity('usage_buckets')
export class UsageBucketEntity {
  @PrimaryColumn({ name: 'key_id', type: 'uuid' })
  keyId!: string;

  @PrimaryColumn({ name: 'bucket_start', type: 'timestamptz' })
  bucketStart!: Date;

  @PrimaryColumn({ type: 'varchar', length: 32 })
  outcome!: string;

  @Column({ type: 'bigint', default: 0 })
  count!: string;
}
