import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CredentialsModule } from '../credentials/credentials.module';
import { RateLimitModule } from '../ratelimit/ratelimit.module';
import { UsageModule } from '../usage/usage.module';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), UsageModule, CredentialsModule, RateLimitModule],
  controllers: [HealthController],
})
export class HealthModule {}
