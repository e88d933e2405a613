// The published example keys sit beside the key format (src/format/), which the configuration reads too.
export { EXAMPLE_KEYS, isExampleKey } from '../format/example-keys';
