// The key format sits below the configuration (src/format/), which checks BOOTSTRAP_ROOT_KEY with it.
export * from '../format/key-format';
