import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which digest secret each key's digest was made with (`digest_secret`: an id of
 * KEY_HASH_SECRETS), so that rotating KEY_HASH_SECRET can tell how many keys still depend
 * on an old secret. Before this every key was digested under the one secret, whose id is
 * `initial` (SINGLE_SECRET_ID in src/config/key-hash-secrets.ts); the column has no default
 * afterwards, so every insert says which secret it used.
 */
export class KeyDigestSecretIds1763900000300 implements MigrationInterface {
  name = 'KeyDigestSecretIds1763900000300';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD "digest_secret" character varying(32) NOT NULL DEFAULT 'initial'`,
    );
    await queryRunner.query(`ALTER TABLE "api_keys" ALTER COLUMN "digest_secret" DROP DEFAULT`);
    await queryRunner.query(`CREATE INDEX "idx_api_keys_digest_secret" ON "api_keys" ("digest_secret") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_digest_secret"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "digest_secret"`);
  }
}
