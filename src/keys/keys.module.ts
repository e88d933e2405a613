import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ClientsModule } from '../clients/clients.module';
import { KeysController } from './keys.controller';
import { KeysService } from './keys.service';
import { RootKeyBootstrap } from './root-key.bootstrap';

@Module({
  imports: [AuthModule, AuditModule, ClientsModule],
  controllers: [KeysController],
  providers: [KeysService, RootKeyBootstrap],
  exports: [KeysService],
})
export class KeysModule {}
