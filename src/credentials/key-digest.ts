import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig, keyHashSecrets } from '../config/config';

/**
 * Keys are stored as HMAC-SHA-256 under a server-side secret: one fast, indexable
 * digest. With DATABASE_URL the secret is required; the embedded default generates
 * one on first start and keeps it beside the database.
 *
 * Several secrets (KEY_HASH_SECRETS) rotate it: the first digests new keys (`of`), and a
 * key is looked up under each (`others` gives the rest) until it has been moved to the first.
 */
@Injectable()
export class KeyDigest {
  /** The id of the secret that digests new keys, stored with each key. */
  readonly currentId: string;
  /** The ids of every configured secret, in order of preference. */
  readonly ids: readonly string[];
  /** Whether more than one secret is configured: then a key unknown under the first is looked up under the rest. */
  readonly rotating: boolean;
  private readonly secret: Buffer;
  private readonly older: readonly { id: string; secret: Buffer }[];

  constructor(env: AppConfig) {
    const secrets = keyHashSecrets(env, () => embeddedSecret(env.DATA_DIR)).map(({ id, secret }) => ({
      id,
      secret: Buffer.from(secret, 'utf8'),
    }));
    this.currentId = secrets[0].id;
    this.secret = secrets[0].secret;
    this.older = secrets.slice(1);
    this.ids = secrets.map((s) => s.id);
    this.rotating = this.older.length > 0;
  }

  /** The digest under the first secret: what new keys are stored with, and what the cache is keyed by. */
  of(key: string): string {
    return createHmac('sha256', this.secret).update(key).digest('hex');
  }

  /** The digests under the other secrets, in their order (none with one secret). */
  others(key: string): string[] {
    return this.older.map(({ secret }) => createHmac('sha256', secret).update(key).digest('hex'));
  }
}

function embeddedSecret(dataDir: string): string {
  if (dataDir.startsWith('memory://')) return randomBytes(32).toString('base64url');
  const file = join(resolve(dataDir), 'key-hash-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}
