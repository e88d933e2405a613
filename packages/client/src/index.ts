export { KEY_LENGTH, keyChecksum, keyHint, parseKey, type KeyEnvironment, type ParsedKey } from './key-format.js';
export {
  createVerifier,
  KeyhouseUnavailableError,
  type ActiveDecision,
  type Decision,
  type InactiveDecision,
  type InactiveReason,
  type StreamStatus,
  type Verifier,
  type VerifierOptions,
  type VerifierStatus,
  type VerifyOptions,
} from './verifier.js';
export { extractKey, type KeyHeaders } from './extract-key.js';
export { httpAnswer, type HttpAnswer, type Identity } from './http-answer.js';
