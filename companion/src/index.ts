/** @kiln/companion: the Kiln gateway. */
export { defaultConfig, type GatewayConfig, parseHostPort, resolveConfig } from './config.ts';
export { ConfigError, GATEWAY_ERROR_CODES, GatewayError, StoreError } from './errors.ts';
export { type Gateway, startGateway } from './gateway.ts';
export { createLogger, redactDsn } from './log.ts';
export { hashSecret, SecretBox, secretMatches } from './secrets.ts';
export { Store } from './store/index.ts';
