/** @kiln/provisioning: Improv and Kiln RPC clients, device enrolment, NVS partition images. */
export * from './nvs/index.ts';
export {
  caFingerprint,
  GatewayApi,
  type GatewayDevice,
  jwkThumbprint,
  restBaseOf,
} from './provision/gateway.ts';
export {
  IMPROV_ERROR_NAMES,
  IMPROV_STATE_NAMES,
  ImprovClient,
  type ImprovDeviceInfo,
  type ScannedNetwork,
} from './provision/improv.ts';
export { type ByteLink, SerialLink } from './provision/link.ts';
export {
  defaultDeviceId,
  formatSummary,
  type ProvisionOptions,
  type ProvisionSummary,
  provision,
} from './provision/provision.ts';
export { type DeviceInfo, type PublicJwk, RpcClient } from './provision/rpc.ts';
