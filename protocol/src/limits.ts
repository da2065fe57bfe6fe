/**
 * Every size, count and rate the contract bounds (SPEC.md). The gateway and the
 * firmware may be configured lower, never higher, than these hard ceilings.
 */
export const LIMITS = {
  /** Largest kiln.v1 text frame, in bytes (also the gateway's default ws maxPayload). */
  messageBytes: 65_536,
  metricsPerSample: 32,
  samplesPerBatch: 64,
  acksPerMessage: 256,
  /** Longest a device JWT may live: exp - iat. */
  jwtMaxLifetimeSec: 300,
  /** Default clock skew the gateway allows on iat/exp. */
  jwtSkewSec: 30,
  /** Serial RPC: data bytes per frame, bytes per line, bytes per reassembled value. */
  rpcChunkBytes: 256,
  rpcLineBytes: 512,
  rpcValueBytes: 8192,
  /** Serial text lines longer than this are cut. */
  serialLineBytes: 1024,
} as const;

/** Defaults the gateway starts with; all configurable within the ceilings above. */
export const DEFAULTS = {
  wsPingSec: 30,
  heartbeatSec: 60,
  telemetrySec: 10,
  messagesPerSecondPerDevice: 50,
  bytesPerSecondPerDevice: 64 * 1024,
  outstandingCommandsPerDevice: 16,
  sendQueueBytes: 1024 * 1024,
  helloTimeoutMs: 10_000,
} as const;
