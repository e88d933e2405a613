import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Client } from 'pg';
import { AppConfig } from '../config/config';
import { SerializedPGlitePool } from '../database/pglite-pool';
import { DatabasePool } from '../database/raw-pool';
import { KeyCache } from './key-cache';
import { CHANGES_CHANNEL, changeFromPayload, KeyChangeFeed } from './key-change-feed';

/** The channel the triggers of migration KeyChangeNotifications announce on. */
export const INVALIDATION_CHANNEL = 'keyhouse_invalidate';

/**
 * How often the listening connection is asked a trivial query, and how long it has to
 * answer. A connection whose path died without either end being told (a NAT or
 * firewall that forgot it, a partition) would otherwise look connected for as long as
 * TCP takes to notice, hours, while every notification sent meanwhile is lost.
 */
const HEARTBEAT_INTERVAL_MS = 5000;
const HEARTBEAT_TIMEOUT_MS = 2000;

/**
 * Drops cache entries when the database announces a change to a key or client.
 * The announcements come from triggers, so no write path can forget them. While
 * the connection is down, announcements may be lost: the TTL bounds what the cache
 * keeps meanwhile, and the whole cache is dropped once listening again. It is not
 * dropped at the disconnect: when the database itself is down, cached keys are
 * still answered until their TTL, as the hot path promises.
 *
 * The same connection listens for the change stream's announcements (KeyChangeFeed):
 * once listening again after a loss, the feed starts a new epoch and tells every
 * subscriber to clear what it cached, as this instance clears its own cache.
 */
@Injectable()
export class KeyChangeListener implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(KeyChangeListener.name);
  private client: Client | null = null;
  private stopped = false;
  private retryDelayMs = 100;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>)[] = [];
  private everConnected = false;
  connected = false;

  constructor(
    private readonly pool: DatabasePool,
    private readonly cache: KeyCache,
    private readonly env: AppConfig,
    private readonly feed: KeyChangeFeed,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const pool = this.pool.ifOpen();
    if (pool instanceof SerializedPGlitePool) {
      this.unlisten = [
        await pool.listen(INVALIDATION_CHANNEL, (payload) => this.onNotification(payload)),
        await pool.listen(CHANGES_CHANNEL, (payload) => this.onChange(payload)),
      ];
      this.connected = true;
      return;
    }
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    await Promise.all(this.unlisten.map((unlisten) => unlisten()));
    const client = this.client;
    this.client = null;
    this.connected = false;
    await client?.end().catch(() => undefined);
  }

  private onNotification(payload: string): void {
    if (payload.startsWith('k:')) this.cache.invalidateDigest(payload.slice(2));
    else if (payload.startsWith('c:')) this.cache.invalidateClient(payload.slice(2));
    else this.cache.clear();
  }

  private onChange(payload: string): void {
    const change = changeFromPayload(payload);
    if (change) this.feed.publish(change);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({
      connectionString: this.env.DATABASE_URL,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      query_timeout: HEARTBEAT_TIMEOUT_MS,
      application_name: 'keyhouse-listener',
    });
    client.on('notification', (msg) => {
      if (!msg.payload) return;
      if (msg.channel === CHANGES_CHANNEL) this.onChange(msg.payload);
      else this.onNotification(msg.payload);
    });
    client.on('error', (err) => this.onLost(client, err));
    client.on('end', () => this.onLost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${INVALIDATION_CHANNEL}; LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      this.onLost(client, err as Error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connected = true;
    this.retryDelayMs = 100;
    this.startHeartbeat(client);
    this.cache.clear(); // whatever changed while we were not listening
    if (this.everConnected) this.feed.restart('notifications_lost');
    this.everConnected = true;
    this.logger.log('listening for key changes');
  }

  /** A query that does not come back in time means the connection is gone, whatever TCP says. */
  private startHeartbeat(client: Client): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      client.query('SELECT 1').catch((err: Error) => this.onLost(client, new Error(`heartbeat: ${err.message}`)));
    }, HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private onLost(client: Client, err?: Error): void {
    if (this.stopped || (this.client !== null && this.client !== client)) return;
    if (this.connected)
      this.logger.warn(`change notifications lost (${err?.message ?? 'connection ended'}); reconnecting`);
    this.client = null;
    this.connected = false;
    this.stopHeartbeat();
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.retryTimer) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }
}
