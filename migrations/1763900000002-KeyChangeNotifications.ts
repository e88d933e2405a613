import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every change to a key, its scopes or its client is announced on the
 * `keyhouse_invalidate` channel, by the database itself, so no write path (nor a
 * manual fix in psql) can forget to invalidate the caches of the running instances.
 * Payloads: `k:<digest>` for a key, `c:<client id>` for a client. Bookkeeping
 * columns written by the hot path (last_used_at, remaining) announce nothing.
 */
export class KeyChangeNotifications1763900000002 implements MigrationInterface {
  name = 'KeyChangeNotifications1763900000002';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION keyhouse_notify_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
      CREATE TRIGGER api_keys_notify AFTER INSERT OR UPDATE OR DELETE ON api_keys
      FOR EACH ROW EXECUTE FUNCTION keyhouse_notify_key_change()`);

    await queryRunner.query(`
      CREATE FUNCTION keyhouse_notify_key_scope_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        changed_key uuid;
      BEGIN
        IF TG_OP = 'DELETE' THEN changed_key := OLD.key_id; ELSE changed_key := NEW.key_id; END IF;
        PERFORM pg_notify('keyhouse_invalidate', 'k:' || k.digest) FROM api_keys k WHERE k.id = changed_key;
        RETURN NULL;
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER key_scopes_notify AFTER INSERT OR UPDATE OR DELETE ON key_scopes
      FOR EACH ROW EXECUTE FUNCTION keyhouse_notify_key_scope_change()`);

    await queryRunner.query(`
      CREATE FUNCTION keyhouse_notify_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
    await queryRunner.query(`
      CREATE TRIGGER clients_notify AFTER UPDATE OR DELETE ON clients
      FOR EACH ROW EXECUTE FUNCTION keyhouse_notify_client_change()`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER clients_notify ON clients`);
    await queryRunner.query(`DROP FUNCTION keyhouse_notify_client_change()`);
    await queryRunner.query(`DROP TRIGGER key_scopes_notify ON key_scopes`);
    await queryRunner.query(`DROP FUNCTION keyhouse_notify_key_scope_change()`);
    await queryRunner.query(`DROP TRIGGER api_keys_notify ON api_keys`);
    await queryRunner.query(`DROP FUNCTION keyhouse_notify_key_change()`);
  }
}
