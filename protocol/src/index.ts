/** @kiln/protocol: the one contract every part of Kiln speaks (SPEC.md). */
export { CHIPS, type Chip, isChip } from './chips.ts';
export { espCrc32 } from './crc32.ts';
export { KilnError, ProtocolError, UsageError } from './errors.ts';
export { ExitCode, type ExitCodeName } from './exit-codes.ts';
export {
  checkDeviceToken,
  type DeviceClaims,
  type DeviceTokenCheck,
  type DeviceTokenResult,
  type JwtErrorCode,
  peekIssuer,
  signDeviceToken,
} from './jwt/device-token.ts';
export { DEFAULTS, LIMITS } from './limits.ts';
export { hasFormat, isDeviceId, isToken } from './messages/formats.ts';
export { COMMAND_STATUSES, ERROR_CODES, MESSAGE_SCHEMAS, type MessageType } from './messages/schemas.ts';
export type * from './messages/types.ts';
export {
  formatValidationError,
  schemaFor,
  type ValidationCode,
  type ValidationError,
  type ValidationResult,
  validateMessage,
  validateValue,
} from './messages/validate.ts';
export * from './rom-loader.ts';
export { SerialDemux, type SerialEvent } from './serial/demux.ts';
export * from './serial/improv.ts';
export * from './serial/rpc-frame.ts';
export * from './subprotocol.ts';
export { filterStaysWithinDevice, type ParsedTopic, parseTopic, TOPIC_ROOT, topics } from './topics.ts';
