import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { CredentialsModule } from '../credentials/credentials.module';
import { RateLimitModule } from '../ratelimit/ratelimit.module';
import { UsageModule } from '../usage/usage.module';
import { HotPathRoutes } from './hot-path.routes';
import { KeyCheck } from './key-check';
import { UsageLimit } from './usage-limit';

/** POST /v1/introspect and GET /v1/authorize: the hot path. */
@Module({
  imports: [AuditModule, AuthModule, CredentialsModule, RateLimitModule, UsageModule],
  providers: [KeyCheck, UsageLimit, HotPathRoutes],
})
export class IntrospectionModule {}
