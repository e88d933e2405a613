import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The client's scope ceiling (`allowed_scopes`: no key of the client may hold a scope
 * outside it; empty means none of its own), and the admin scope that lets a secret
 * scanner's key revoke another client's key by reporting it leaked.
 */
export class ClientScopeCeilingAndLeakReports1763900000200 implements MigrationInterface {
  name = 'ClientScopeCeilingAndLeakReports1763900000200';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "clients" ADD "allowed_scopes" text array NOT NULL DEFAULT '{}'`);
    await queryRunner.query(
      `INSERT INTO "scopes" ("name", "description") VALUES ('admin:leaks:report', 'Revoke any client''s key by reporting it leaked (granted by root keys only)') ON CONFLICT ("name") DO NOTHING`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "scopes" WHERE "name" = 'admin:leaks:report'`);
    await queryRunner.query(`ALTER TABLE "clients" DROP COLUMN "allowed_scopes"`);
  }
}
