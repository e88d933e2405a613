import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/config';

/**
 * Keys are stored as HMAC-SHA-256 under a server-side secret: one fast, indexable
 * digest. With DATABASE_URL the secret is required; the embedded default generates
 * one on first start and keeps it beside the database.
 */
@Injectable()
export class KeyDigest {
  private readonly secret: Buffer;

  constructor(env: AppConfig) {
    this.secret = Buffer.from(env.KEY_HASH_SECRET ?? embeddedSecret(env.DATA_DIR), 'utf8');
  }

  of(key: string): string {
    return createHmac('sha256', this.secret).update(key).digest('hex');
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
