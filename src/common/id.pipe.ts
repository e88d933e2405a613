import { Injectable, PipeTransform } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { NotFound } from './errors';

/** A path id that is not a UUID names nothing: 404, like any id that does not exist. */
@Injectable()
export class IdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUUID(value)) throw new NotFound('Nothing exists with that id.');
    return value.toLowerCase();
  }
}
