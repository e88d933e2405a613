import { Module } from '@nestjs/common';
import { StoreModule } from '../store/store.module';
import { CacheGauges } from './cache-gauges';
import { KeyCache } from './key-cache';
import { KeyChangeListener } from './key-change-listener';
import { KeyDigest } from './key-digest';
import { KeyVerifier } from './key-verifier';

@Module({
  imports: [StoreModule],
  providers: [KeyDigest, KeyCache, KeyVerifier, KeyChangeListener, CacheGauges],
  exports: [KeyDigest, KeyCache, KeyVerifier, KeyChangeListener],
})
export class CredentialsModule {}
