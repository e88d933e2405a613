import { MigrationInterface, QueryRunner } from 'typeorm';

/** The system client that holds the root keys, and the built-in admin: scopes. */
export class SystemClientAndAdminScopes1763900000001 implements MigrationInterface {
  name = 'SystemClientAndAdminScopes1763900000001';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `INSERT INTO "clients" ("id", "name", "description", "is_system")
       VALUES ('00000000-0000-4000-8000-000000000000', 'system', 'Holds the operators'' root keys', true)`,
    );
    await queryRunner.query(`INSERT INTO "scopes" ("name", "description") VALUES
      ('admin:*', 'Every admin permission'),
      ('admin:clients:read', 'Read clients'),
      ('admin:clients:write', 'Create and change clients'),
      ('admin:keys:read', 'Read keys and their usage'),
      ('admin:keys:write', 'Issue, change, rotate and revoke keys'),
      ('admin:scopes:read', 'Read the scope catalog'),
      ('admin:scopes:write', 'Change the scope catalog'),
      ('admin:audit:read', 'Read and verify the audit trail'),
      ('admin:introspect', 'Introspect keys and authorize requests')`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_clients_single_system" ON "clients" ("is_system") WHERE "is_system"`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "uq_clients_single_system"`);
    await queryRunner.query(`DELETE FROM "scopes" WHERE "name" LIKE 'admin:%'`);
    await queryRunner.query(`DELETE FROM "clients" WHERE "id" = '00000000-0000-4000-8000-000000000000'`);
  }
}
