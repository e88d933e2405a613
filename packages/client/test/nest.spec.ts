import { Controller, Get, Module, Post, Req, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  KEYHOUSE_VERIFIER,
  KeyhouseGuard,
  KeyhouseIdentity,
  RequireScopes,
  type Identity,
} from '@keyhouse/client/nest';
import { middlewareSuite } from './middleware-suite';

middlewareSuite('NestJS', async (verifier, scopes) => {
  type Seen = { headers: Record<string, string | undefined> };
  const answer = (identity: Identity, req: Seen) => ({
    identity,
    authorization: req.headers.authorization ?? null,
    apiKey: req.headers['x-api-key'] ?? null,
  });

  @Controller('orders')
  @UseGuards(KeyhouseGuard)
  class OrdersController {
    @Get()
    @RequireScopes(scopes.read)
    list(@KeyhouseIdentity() identity: Identity, @Req() req: Seen) {
      return answer(identity, req);
    }

    @Post()
    @RequireScopes(scopes.write)
    create(@KeyhouseIdentity() identity: Identity, @Req() req: Seen) {
      return answer(identity, req);
    }
  }

  @Module({ controllers: [OrdersController], providers: [{ provide: KEYHOUSE_VERIFIER, useValue: verifier }] })
  class OrdersModule {}

  const app = await NestFactory.create<NestFastifyApplication>(OrdersModule, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  return { url: await app.getUrl(), close: () => app.close() };
});
