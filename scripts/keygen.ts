// Prints a fresh, well-formed Keyhouse key: `npm run keygen [-- live|test]`.
// Useful for BOOTSTRAP_ROOT_KEY; the key means nothing until Keyhouse registers it.
import { ENVIRONMENTS, KeyEnvironment, generateKey } from '../src/credentials/key-format';

const environment = (process.argv[2] ?? 'live') as KeyEnvironment;
if (!ENVIRONMENTS.includes(environment)) {
  process.stderr.write(`usage: npm run keygen -- [${ENVIRONMENTS.join('|')}]\n`);
  process.exit(64);
}
process.stdout.write(`${generateKey(environment)}\n`);
