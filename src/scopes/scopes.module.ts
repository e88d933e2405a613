import { Module } from '@nestjs/common';
import { StoreModule } from '../store/store.module';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ScopesController } from './scopes.controller';
import { ScopesService } from './scopes.service';

@Module({
  imports: [StoreModule, AuthModule, AuditModule],
  controllers: [ScopesController],
  providers: [ScopesService],
})
export class ScopesModule {}
