import { ValidationError, ValidationPipe } from '@nestjs/common';
import { BadInput } from './errors';
import type { FieldError } from './problem';

/** The admin API's pipe: unknown fields are rejected, never stored; each bad field is named. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const fields = flatten(errors, '');
      return new BadInput(`The request has ${fields.length} invalid field${fields.length === 1 ? '' : 's'}.`, { errors: fields });
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
