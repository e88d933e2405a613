import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CredentialsModule } from '../credentials/credentials.module';
import { RateLimitModule } from '../ratelimit/ratelimit.module';
import { StoreModule } from '../store/store.module';
import { UsageModule } from '../usage/usage.module';
import { ForwardAuth } from './authorize';
import { HotPathServer } from './hot-path.server';
import { Introspection } from './introspect';
import { KeyChangeStream } from './key-changes';
import { KeyPipeline } from './key-pipeline';
import { UsageLimit } from './usage-limit';

/** POST /v1/introspect, forward auth on /v1/authorize and the change stream GET /v1/key-changes: the hot path, entered at HotPathServer. */
@Module({
  imports: [AuditModule, AuthModule, CredentialsModule, RateLimitModule, StoreModule, UsageModule],
  providers: [KeyPipeline, UsageLimit, Introspection, ForwardAuth, KeyChangeStream, HotPathServer],
})
export class HotPathModule {}
