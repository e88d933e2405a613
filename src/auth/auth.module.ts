import { Module } from '@nestjs/common';
import { CredentialsModule } from '../credentials/credentials.module';
import { AdminGuard } from './admin.guard';

@Module({
  imports: [CredentialsModule],
  providers: [AdminGuard],
  exports: [AdminGuard, CredentialsModule],
})
export class AuthModule {}
