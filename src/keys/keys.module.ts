import { Module } from '@nestjs/common';
import { StoreModule } from '../store/store.module';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { ClientsModule } from '../clients/clients.module';
import { KeysController } from './keys.controller';
import { KeysService } from './keys.service';
import { LeakedKeysController } from './leaked-keys.controller';
import { LeakedKeysService } from './leaked-keys.service';
import { RootKeyBootstrap } from './root-key.bootstrap';

@Module({
  imports: [StoreModule, AuthModule, AuditModule, ClientsModule],
  controllers: [KeysController, LeakedKeysController],
  providers: [KeysService, LeakedKeysService, RootKeyBootstrap],
})
export class KeysModule {}
