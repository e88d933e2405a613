import { Module } from '@nestjs/common';
import { StoreModule } from '../store/store.module';
import { AuthModule } from '../auth/auth.module';
import { UsageController } from './usage.controller';
import { UsageRecorder } from './usage-recorder';
import { UsageService } from './usage.service';

@Module({
  imports: [StoreModule, AuthModule],
  controllers: [UsageController],
  providers: [UsageService, UsageRecorder],
  exports: [UsageRecorder],
})
export class UsageModule {}
