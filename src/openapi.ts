import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { API_KEY_SCHEME, BEARER_SCHEME } from './auth/require-scopes.decorator';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Keyhouse')
    .setDescription(
      'API key management: issue keys to clients, scope them, rotate them with a grace period, revoke them at once, ' +
        'and introspect them on every request.\n\nAuthenticate with a Keyhouse key holding the admin scope each operation names ' +
        '(`x-required-scopes`), as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Errors are RFC 9457 problem details.',
    )
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'sk_live_… / sk_test_…', description: 'A Keyhouse key.' }, BEARER_SCHEME)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'A Keyhouse key, the alternative to a bearer token.' }, API_KEY_SCHEME)
    .addTag('clients', 'Who holds keys: services, partners, customers.')
    .addTag('keys', 'Issue, list, change, rotate and revoke keys.')
    .addTag('scopes', 'The catalog of scopes keys may carry.')
    .addTag('audit', 'The trail of every change.')
    .addTag('operations', 'Health and metrics.')
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /docs and the document at /docs-json. */
export function setUpOpenApi(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Keyhouse API',
    swaggerOptions: { persistAuthorization: true, displayRequestDuration: true, tryItOutEnabled: false },
  });
}
