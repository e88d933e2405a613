import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { BadInput } from './errors';
import type { FieldError } from './problem';

/**
 * Keys class-transformer drops without a word (so the whitelist never sees them): every
 * name an object inherits (`constructor`, `__proto__`, `toString`, `valueOf`, ...) and
 * `prototype`. A body or query carrying one, at any depth (metadata included), would be
 * accepted minus that field, where every other unknown field is a 400.
 */
const DROPPED_KEYS = new Set(['prototype', ...Object.getOwnPropertyNames(Object.prototype)]);

/** Pointers to every key of `value` the transformer would drop. */
function droppedKeys(value: unknown, pointer = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) =>
    (DROPPED_KEYS.has(key) ? [`#${pointer}/${key}`] : []).concat(droppedKeys(child, `${pointer}/${key}`)),
  );
}

/**
 * Nest's pipe turns a `null` body into `{}` and validates that, so `null` revoked a key as
 * an empty body would; a body that is sent must be a JSON object.
 */
class AdminValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && value === null) throw new BadInput('The request body must be a JSON object.');
    if (metadata.type === 'body' || metadata.type === 'query') {
      const dropped = droppedKeys(value);
      if (dropped.length > 0) {
        throw new BadInput(`The request has ${dropped.length} invalid field${dropped.length === 1 ? '' : 's'}.`, {
          errors: dropped.map((pointer) => ({
            pointer,
            detail: `${pointer.split('/').pop()} is not a field this API takes`,
          })),
        });
      }
    }
    return super.transform(value, metadata);
  }
}

/** The admin API's pipe: unknown fields are rejected, never stored; each bad field is named. */
export function createValidationPipe(): ValidationPipe {
  return new AdminValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const fields = flatten(errors, '');
      return new BadInput(`The request has ${fields.length} invalid field${fields.length === 1 ? '' : 's'}.`, {
        errors: fields,
      });
    },
  });
}

function flatten(errors: ValidationError[], parent: string): FieldError[] {
  return errors.flatMap((error) => {
    const pointer = `${parent}/${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((detail) => ({ pointer: `#${pointer}`, detail }));
    return own.concat(flatten(error.children ?? [], pointer));
  });
}
