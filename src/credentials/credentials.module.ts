import { Module } from '@nestjs/common';
import { KeyCache } from './key-cache';
import { KeyChangeListener } from './key-change-listener';
import { KeyDigest } from './key-digest';
import { KeyVerifier } from './key-verifier';

@Module({
  providers: [KeyDigest, KeyCache, KeyVerifier, KeyChangeListener],
  exports: [KeyDigest, KeyCache, KeyVerifier],
})
export class CredentialsModule {}
