import { Module } from '@nestjs/common';
import { StoreModule } from '../store/store.module';
import { CacheGauges } from './cache-gauges';
import { DigestMover } from './digest-mover';
import { KeyCache } from './key-cache';
import { KeyChangeFeed } from './key-change-feed';
import { KeyChangeListener } from './key-change-listener';
import { KeyDigest } from './key-digest';
import { KeyVerifier } from './key-verifier';

@Module({
  imports: [StoreModule],
  providers: [KeyDigest, KeyCache, KeyVerifier, KeyChangeFeed, KeyChangeListener, CacheGauges, DigestMover],
  exports: [KeyDigest, KeyCache, KeyVerifier, KeyChangeFeed, KeyChangeListener, DigestMover],
})
export class CredentialsModule {}
