import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * created_at (and updated_at, rounded alike so it is never the earlier one) of
 * clients and keys in milliseconds. Lists page by (created_at, id) and
 * the cursor carries created_at as the API shows it, in milliseconds; at microsecond
 * precision every row sharing the millisecond of a page's last row but older by a
 * few microseconds was skipped. Existing values are rounded; the order within one
 * millisecond is then by id, as for any tie.
 */
export class MillisecondCreatedAt1763900000100 implements MigrationInterface {
  name = 'MillisecondCreatedAt1763900000100';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['clients', 'api_keys']) {
      await queryRunner.query(
        `ALTER TABLE "${table}" ALTER COLUMN "created_at" TYPE TIMESTAMP(3) WITH TIME ZONE, ALTER COLUMN "updated_at" TYPE TIMESTAMP(3) WITH TIME ZONE`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['api_keys', 'clients']) {
      await queryRunner.query(
        `ALTER TABLE "${table}" ALTER COLUMN "created_at" TYPE TIMESTAMP WITH TIME ZONE, ALTER COLUMN "updated_at" TYPE TIMESTAMP WITH TIME ZONE`,
      );
    }
  }
}
