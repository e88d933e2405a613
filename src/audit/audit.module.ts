import { Module } from '@nestjs/common';
import { StoreModule } from '../store/store.module';
import { AuthModule } from '../auth/auth.module';
import { AuditController } from './audit.controller';
import { AuditLog } from './audit-log';
import { AuditChainVerifier } from './audit-verifier';
import { AuditService } from './audit.service';
import { DeniedAttempts } from './denied-attempts';

@Module({
  imports: [StoreModule, AuthModule],
  controllers: [AuditController],
  providers: [AuditLog, AuditService, AuditChainVerifier, DeniedAttempts],
  exports: [AuditLog, DeniedAttempts],
})
export class AuditModule {}
