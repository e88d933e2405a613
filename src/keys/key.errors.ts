import { Conflict, NotFound } from '../common/errors';

/** No such key, or one the caller may not see: the same 404 either way. */
export class KeyNotFound extends NotFound {
  constructor() {
    super('No key with that id.');
  }
}

export class KeyAlreadyRotated extends Conflict {
  constructor(successor: string) {
    super('The key has already been rotated; rotate its successor instead.', { replaced_by: successor });
  }
}

export class KeyNotGood extends Conflict {
  constructor(status: string) {
    super(`The key is ${status}; only a good key can be rotated or changed.`, { key_status: status });
  }
}
