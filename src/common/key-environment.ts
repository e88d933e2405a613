// The key environments are part of the key format (src/format/), which the configuration reads too.
export { ENVIRONMENTS, type KeyEnvironment } from '../format/key-environment';
