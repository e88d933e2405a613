import { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1763900000000 implements MigrationInterface {
  name = 'Initial1763900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "audit_events" ("id" BIGSERIAL NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "actor_key_id" uuid, "action" character varying(64) NOT NULL, "target_type" character varying(32) NOT NULL, "target_id" character varying(128) NOT NULL, "client_id" uuid, "request_id" character varying(128), "source_ip" character varying(64), "changes" jsonb NOT NULL DEFAULT '{}', "prev_hash" character(64) NOT NULL, "hash" character(64) NOT NULL, CONSTRAINT "PK_910f64d901a5c3e9878f0d4a407" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_audit_events_client" ON "audit_events"  ("client_id", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_audit_events_actor" ON "audit_events"  ("actor_key_id", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_audit_events_target" ON "audit_events"  ("target_id", "id") `);
    await queryRunner.query(`CREATE INDEX "idx_audit_events_action" ON "audit_events"  ("action", "id") `);
    await queryRunner.query(
      `CREATE TABLE "clients" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "description" text NOT NULL DEFAULT '', "status" character varying(16) NOT NULL DEFAULT 'active', "is_system" boolean NOT NULL DEFAULT false, "metadata" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_clients_status" CHECK (status IN ('active', 'suspended')), CONSTRAINT "PK_f1ab7cf3a5714dbc6bb4e1c28a4" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_clients_created_id" ON "clients"  ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "scopes" ("name" character varying(128) NOT NULL, "description" text NOT NULL DEFAULT '', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_1029065e5c13f582d843d73dee5" PRIMARY KEY ("name"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "api_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "client_id" uuid NOT NULL, "environment" character varying(4) NOT NULL, "name" character varying(200) NOT NULL, "digest" character(64) NOT NULL, "hint" character varying(32) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_reason" character varying(500), "replaces" uuid, "replaced_by" uuid, "grace_ends_at" TIMESTAMP WITH TIME ZONE, "rate_limit" integer, "rate_window_seconds" integer, "ip_allowlist" text array NOT NULL DEFAULT '{}', "usage_limit" integer, "remaining" integer, "metadata" jsonb NOT NULL DEFAULT '{}', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "chk_api_keys_rate_limit" CHECK ((rate_limit IS NULL) = (rate_window_seconds IS NULL)), CONSTRAINT "chk_api_keys_remaining" CHECK (remaining IS NULL OR remaining >= 0), CONSTRAINT "chk_api_keys_environment" CHECK (environment IN ('live', 'test')), CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_api_keys_digest" ON "api_keys"  ("digest") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_api_keys_replaced_by" ON "api_keys"  ("replaced_by") WHERE replaced_by IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_api_keys_client_created_id" ON "api_keys"  ("client_id", "created_at", "id") `,
    );
    await queryRunner.query(`CREATE INDEX "idx_api_keys_created_id" ON "api_keys"  ("created_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "key_scopes" ("key_id" uuid NOT NULL, "scope_name" character varying(128) NOT NULL, CONSTRAINT "PK_a4ae4ea1206abcb32057a684069" PRIMARY KEY ("key_id", "scope_name"))`,
    );
    await queryRunner.query(`CREATE INDEX "idx_key_scopes_scope" ON "key_scopes"  ("scope_name") `);
    await queryRunner.query(
      `CREATE TABLE "usage_buckets" ("key_id" uuid NOT NULL, "bucket_start" TIMESTAMP WITH TIME ZONE NOT NULL, "outcome" character varying(32) NOT NULL, "count" bigint NOT NULL DEFAULT '0', CONSTRAINT "PK_ff595810f5b8b93e5df45fd09a3" PRIMARY KEY ("key_id", "bucket_start", "outcome"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "FK_b9f0ad6c30a02bcca328a6316c7" FOREIGN KEY ("client_id") REFERENCES "clients"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "key_scopes" ADD CONSTRAINT "FK_f4404ef3ed65bc8a8d7f8d54c4a" FOREIGN KEY ("key_id") REFERENCES "api_keys"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "key_scopes" ADD CONSTRAINT "FK_850354a5765936a8104ea4b7b4e" FOREIGN KEY ("scope_name") REFERENCES "scopes"("name") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "key_scopes" DROP CONSTRAINT "FK_850354a5765936a8104ea4b7b4e"`);
    await queryRunner.query(`ALTER TABLE "key_scopes" DROP CONSTRAINT "FK_f4404ef3ed65bc8a8d7f8d54c4a"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_b9f0ad6c30a02bcca328a6316c7"`);
    await queryRunner.query(`DROP TABLE "usage_buckets"`);
    await queryRunner.query(`DROP INDEX "public"."idx_key_scopes_scope"`);
    await queryRunner.query(`DROP TABLE "key_scopes"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_created_id"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_client_created_id"`);
    await queryRunner.query(`DROP INDEX "public"."uq_api_keys_replaced_by"`);
    await queryRunner.query(`DROP INDEX "public"."uq_api_keys_digest"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP TABLE "scopes"`);
    await queryRunner.query(`DROP INDEX "public"."idx_clients_created_id"`);
    await queryRunner.query(`DROP TABLE "clients"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_action"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_target"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_actor"`);
    await queryRunner.query(`DROP INDEX "public"."idx_audit_events_client"`);
    await queryRunner.query(`DROP TABLE "audit_events"`);
  }
}
