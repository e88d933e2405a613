import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The change stream's source (GET /v1/key-changes): besides the cache invalidations on
 * `keyhouse_invalidate` (unchanged, so an instance that predates this migration keeps
 * invalidating), every change that can alter an introspection answer is announced on
 * `keyhouse_key_changes`, naming the key or client and what changed, never a digest:
 *
 *   k:<key id>:<client id>:<change>   created, revoked, rotated, expired, updated, deleted
 *   c:<client id>:<change>            suspended, reactivated, updated, deleted
 *
 * A key's change is read from OLD and NEW: revoked_at set is `revoked`, replaced_by or
 * grace_ends_at changed is `rotated`, expires_at moved into the past is `expired`, any
 * other change (name, scopes, limits, allowlist, metadata) `updated`. A key's scopes
 * written with the key itself announce `created`, the same payload as the key's own, so
 * PostgreSQL delivers it once. A client announces a change of status, of is_system and
 * of allowed_scopes; its name, description and metadata are in no introspection answer.
 */
export class KeyChangeStream1763900000318 implements MigrationInterface {
  name = 'KeyChangeStream1763900000318';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION keyhouse_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        change text;
      BEGIN
        IF TG_OP = 'UPDATE' AND
           (to_jsonb(NEW) - 'last_used_at' - 'remaining' - 'updated_at') = (to_jsonb(OLD) - 'last_used_at' - 'remaining' - 'updated_at') THEN
          RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('keyhouse_invalidate', 'k:' || OLD.digest);
          PERFORM pg_notify('keyhouse_key_changes', 'k:' || OLD.id || ':' || OLD.client_id || ':deleted');
          RETURN NULL;
        END IF;
        PERFORM pg_notify('keyhouse_invalidate', 'k:' || NEW.digest);
        IF TG_OP = 'INSERT' THEN
          change := 'created';
        ELSIF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
          change := 'revoked';
        ELSIF NEW.replaced_by IS DISTINCT FROM OLD.replaced_by OR NEW.grace_ends_at IS DISTINCT FROM OLD.grace_ends_at THEN
          change := 'rotated';
        ELSIF NEW.expires_at IS DISTINCT FROM OLD.expires_at AND NEW.expires_at <= clock_timestamp() THEN
          change := 'expired';
        ELSE
          change := 'updated';
        END IF;
        PERFORM pg_notify('keyhouse_key_changes', 'k:' || NEW.id || ':' || NEW.client_id || ':' || change);
        RETURN NULL;
      END $$`);

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION keyhouse_notify_key_scope_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        changed_key uuid;
      BEGIN
        IF TG_OP = 'DELETE' THEN changed_key := OLD.key_id; ELSE changed_key := NEW.key_id; END IF;
        PERFORM pg_notify('keyhouse_invalidate', 'k:' || k.digest),
                pg_notify('keyhouse_key_changes', 'k:' || k.id || ':' || k.client_id || ':' ||
                  CASE WHEN TG_OP = 'INSERT' AND k.xmin = pg_current_xact_id()::xid AND k.created_at = k.updated_at
                       THEN 'created' ELSE 'updated' END)
          FROM api_keys k WHERE k.id = changed_key;
        RETURN NULL;
      END $$`);

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION keyhouse_notify_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        change text;
      BEGIN
        IF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('keyhouse_invalidate', 'c:' || OLD.id);
          PERFORM pg_notify('keyhouse_key_changes', 'c:' || OLD.id || ':deleted');
          RETURN NULL;
        END IF;
        IF NEW.status IS DISTINCT FROM OLD.status OR NEW.is_system IS DISTINCT FROM OLD.is_system THEN
          PERFORM pg_notify('keyhouse_invalidate', 'c:' || NEW.id);
        END IF;
        IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status = 'suspended' THEN
          change := 'suspended';
        ELSIF NEW.status IS DISTINCT FROM OLD.status AND NEW.status = 'active' THEN
          change := 'reactivated';
        ELSIF NEW.status IS DISTINCT FROM OLD.status OR NEW.is_system IS DISTINCT FROM OLD.is_system
              OR NEW.allowed_scopes IS DISTINCT FROM OLD.allowed_scopes THEN
          change := 'updated';
        ELSE
          RETURN NULL;
        END IF;
        PERFORM pg_notify('keyhouse_key_changes', 'c:' || NEW.id || ':' || change);
        RETURN NULL;
      END $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION keyhouse_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND
           (to_jsonb(NEW) - 'last_used_at' - 'remaining' - 'updated_at') = (to_jsonb(OLD) - 'last_used_at' - 'remaining' - 'updated_at') THEN
          RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('keyhouse_invalidate', 'k:' || OLD.digest);
        ELSE
          PERFORM pg_notify('keyhouse_invalidate', 'k:' || NEW.digest);
        END IF;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION keyhouse_notify_key_scope_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        changed_key uuid;
      BEGIN
        IF TG_OP = 'DELETE' THEN changed_key := OLD.key_id; ELSE changed_key := NEW.key_id; END IF;
        PERFORM pg_notify('keyhouse_invalidate', 'k:' || k.digest) FROM api_keys k WHERE k.id = changed_key;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION keyhouse_notify_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status AND NEW.is_system = OLD.is_system THEN
          RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('keyhouse_invalidate', 'c:' || OLD.id);
        ELSE
          PERFORM pg_notify('keyhouse_invalidate', 'c:' || NEW.id);
        END IF;
        RETURN NULL;
      END $$`);
  }
}
