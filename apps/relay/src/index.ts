/**
 * @mxcast/relay: the Matrix-shaped media relay that stores growing MSC4016 media and fans it out
 * live (docs/protocol.md, docs/operations.md).
 */
export { startRelay, type RunningRelay } from './adapter/node-relay.ts';
export {
  DEFAULT_LIMITS,
  resolveConfig,
  type RelayAuthConfig,
  type RelayConfig,
  type RelayLimits,
  type RelayOptions,
} from './core/relay-config.ts';
export {
  parseConfig,
  printableConfig,
  readConfigFile,
  type LoadedConfigFile,
} from './core/config-file.ts';
export {
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  type RelayLogger,
} from './core/relay-log.ts';
export { RelayError, type RelayErrorCode } from './core/relay-error.ts';
export { repairDataDir, type RepairReport } from './core/media-repair.ts';
export {
  createToken,
  listTokens,
  revokeTokens,
  type RevokeTarget,
  type TokenInfo,
} from './core/token-store.ts';
export {
  createClusterToken,
  listClusterTokens,
  parseClusterServers,
  revokeClusterTokens,
} from './core/cluster-token-store.ts';
export { UNSTABLE_PREFIX } from '@mxcast/protocol';
