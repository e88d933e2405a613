import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiConflictResponse } from '@nestjs/swagger';
import { ProblemResponse } from './problem.response';

export const ApiBadRequest = () =>
  applyDecorators(
    ApiBadRequestResponse({ type: ProblemResponse, description: 'Invalid input; `errors` names each field.' }),
  );

export const ApiConflict = (description: string) =>
  applyDecorators(ApiConflictResponse({ type: ProblemResponse, description }));
