import { Module } from '@nestjs/common';
import { CredentialsModule } from '../credentials/credentials.module';
import { RateLimitModule } from '../ratelimit/ratelimit.module';
import { AdminGuard } from './admin.guard';
import { AuthFailureThrottle } from './auth-failure-throttle';

@Module({
  imports: [CredentialsModule, RateLimitModule],
  providers: [AdminGuard, AuthFailureThrottle],
  exports: [AdminGuard, AuthFailureThrottle, CredentialsModule],
})
export class AuthModule {}
