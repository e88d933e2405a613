import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditLog } from '../audit/audit-log';
import { AppConfig } from '../config/config';
import { isExampleKey } from '../credentials/example-keys';
import { KeyDigest } from '../credentials/key-digest';
import { generateKey, keyHint, parseKey } from '../credentials/key-format';
import { lockForTransaction } from '../database/advisory-lock';
import { Transactions } from '../database/transactions';
import { KeysRepository } from '../store/keys.repository';

/** The system client, made by the first migration; it holds the operators' root keys. */
export const SYSTEM_CLIENT_ID = '00000000-0000-4000-8000-000000000000';
const BOOTSTRAP_LOCK = 7_426_002;
/** The bootstrap's transaction found the system client with a key already. */
const ALREADY_THERE = Symbol('root key already there');

/**
 * On the first start, gives the operators a root key (`admin:*`): BOOTSTRAP_ROOT_KEY
 * when set, otherwise a new key printed once, in a box of its own on standard error (never
 * in the JSON log on standard output, which names where it went). Only while the system
 * client has never had a key, so a restart never brings a revoked root back.
 */
@Injectable()
export class RootKeyBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger('Bootstrap');

  constructor(
    private readonly transactions: Transactions,
    private readonly keys: KeysRepository,
    private readonly digest: KeyDigest,
    private readonly audit: AuditLog,
    private readonly env: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const given = this.env.BOOTSTRAP_ROOT_KEY;
    if (given && !parseKey(given)) {
      throw new Error('BOOTSTRAP_ROOT_KEY is not a well-formed Keyhouse key (make one with `npm run keygen`)');
    }
    if (given && isExampleKey(given)) {
      throw new Error(
        'BOOTSTRAP_ROOT_KEY is the documented example key, which Keyhouse never accepts (make a real one with `npm run keygen`)',
      );
    }
    const generated = await this.transactions.run(async (manager) => {
      await lockForTransaction(manager, BOOTSTRAP_LOCK);
      if (await this.keys.hasAnyOfClient(SYSTEM_CLIENT_ID, manager)) return ALREADY_THERE;
      const key = given ?? generateKey('live');
      const root = await this.keys.insertWithScopes(
        {
          clientId: SYSTEM_CLIENT_ID,
          environment: parseKey(key)!.environment,
          name: 'root',
          digest: this.digest.of(key),
          digestSecret: this.digest.currentId,
          hint: keyHint(key),
          expiresAt: null,
          ipAllowlist: [],
          metadata: {},
        },
        ['admin:*'],
        manager,
      );
      await this.audit.append(
        manager,
        { actor: null, requestId: 'bootstrap', sourceIp: 'local' },
        {
          action: 'key.issued',
          targetType: 'key',
          targetId: root.id,
          clientId: SYSTEM_CLIENT_ID,
          changes: {
            name: 'root',
            scopes: ['admin:*'],
            hint: root.hint,
            source: given ? 'BOOTSTRAP_ROOT_KEY' : 'generated',
          },
        },
      );
      this.logger.log(
        given
          ? `root key ${root.hint} registered (from BOOTSTRAP_ROOT_KEY)`
          : `root key ${root.hint} registered (generated): printed once, in a box on standard error; store it now`,
      );
      return given ? null : key;
    });
    // After the transaction: on the embedded database its one connection is the transaction's until then.
    if (generated === ALREADY_THERE) {
      if (given) await this.warnIfNotRegistered(given);
      return;
    }
    // The one place a secret is written out: straight to stderr, never through the logger.
    if (generated) process.stderr.write(rootKeyNotice(generated));
  }

  /**
   * BOOTSTRAP_ROOT_KEY is only read while the system client has no key: when another key got
   * there first (an instance started without it, or an earlier deployment), the one set here
   * does nothing, and an operator who relies on it would meet only 401s.
   */
  private async warnIfNotRegistered(given: string): Promise<void> {
    if (await this.keys.findRecordRowByDigest(this.digest.of(given))) return;
    this.logger.warn(
      `BOOTSTRAP_ROOT_KEY ${keyHint(given)} is ignored: the system client already has a root key, registered ` +
        'before this start (by another instance, or an earlier one). Use that key, or issue one with it; then unset BOOTSTRAP_ROOT_KEY.',
    );
  }
}

/** The generated root key and what to do with it, boxed so that it stands out from the log lines around it. */
export function rootKeyNotice(key: string): string {
  const lines = [
    'KEYHOUSE ROOT KEY (admin:*): shown this once, never again',
    '',
    key,
    '',
    'Store it in your secret manager now: Keyhouse keeps only its',
    'digest and cannot show it again. Send it as',
    '  Authorization: Bearer <key>',
    'to create clients and their keys (see the README).',
    'To choose the root key yourself, set BOOTSTRAP_ROOT_KEY',
    '(npm run keygen) before the first start.',
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const edge = `+${'-'.repeat(width + 2)}+`;
  return `\n${edge}\n${lines.map((l) => `| ${l.padEnd(width)} |`).join('\n')}\n${edge}\n\n`;
}
