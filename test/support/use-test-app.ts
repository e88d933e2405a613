import type { AppOptions } from '../../src/app';
import type { AppConfig } from '../../src/config/config';
import { TestApp } from './test-app';

/**
 * A stand-in for a value that exists only once the suite's `beforeAll` hooks have run: every
 * property read, write and method call is forwarded to what `resolve` returns at that moment.
 * Reading it before then (in a describe body, say) throws with the reason.
 * Methods of the prototype come bound to the value; its own properties come as they are, so
 * `jest.spyOn(app, 'call')` puts the mock on the app itself and hands it back unwrapped.
 */
function lazy<T extends object>(resolve: () => T): T {
  return new Proxy({} as T, {
    get(_, property) {
      const target = resolve();
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || Object.prototype.hasOwnProperty.call(target, property)) return value;
      return value.bind(target);
    },
    set(_, property, value) {
      return Reflect.set(resolve(), property, value);
    },
    // Jest restores every spy once more after the file's last afterAll: nothing is left to undo then.
    deleteProperty(_, property) {
      let target: T;
      try {
        target = resolve();
      } catch {
        return true;
      }
      return Reflect.deleteProperty(target, property);
    },
    has(_, property) {
      return Reflect.has(resolve(), property);
    },
  });
}

/**
 * The service for the enclosing `describe` block: `TestApp.start(overrides, options)` in a
 * `beforeAll`, `close()` in an `afterAll`, both registered where this is called. Returns the
 * app itself (through `lazy`), so a suite writes
 *
 *     const app = useTestApp({ TRUSTED_PROXIES: '127.0.0.1' });
 *     beforeAll(async () => { client = await makeClient(app); });   // runs after the start
 *
 * and uses `app.post(...)`, `app.rootKey`, `app.app.get(...)` in its tests. A suite's own
 * `beforeAll` hooks declared after this call run after the app has started; its own
 * `afterAll` hooks declared after it run after the app has closed (Jest runs hooks of one
 * kind in the order they are declared), so one that still needs the app is declared before.
 * Overrides known only once an earlier `beforeAll` has run (a proxy's port, a database made
 * for the suite) are given as a function, called when the app starts.
 */
export function useTestApp(
  overrides: Partial<AppConfig> | (() => Partial<AppConfig>) = {},
  options: AppOptions = {},
): TestApp {
  let current: TestApp | undefined;
  let closed = false;
  beforeAll(async () => {
    current = await TestApp.start(typeof overrides === 'function' ? overrides() : overrides, options);
  });
  afterAll(async () => {
    closed = true;
    await current?.close();
  });
  return lazy(() => {
    if (current && !closed) return current;
    throw new Error(
      closed
        ? 'useTestApp: the app is used after its afterAll closed it'
        : 'useTestApp: the app is used before its beforeAll started it (or its start failed)',
    );
  });
}
