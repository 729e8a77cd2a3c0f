/**
 * tradeloop: one strategy class for backtest, paper and live trading.
 *
 * Strategies need only the contract (`BaseStrategy`, `IStratEnv`, events, enums, codes,
 * `Price`/`Qty`, `Instrument`). The rest is for runners and tools: the kernel, books,
 * the simulated venue, importers, the backtest and replay.
 * @module
 */
export * from './api/index.js';

export { StratEnv, type StratEnvOptions, type MarketDataHub, type EnvState } from './core/env.js';
export { FLATTEN_MAX_ROUNDS, type ParamsSchema, type ParamsUpdateResult } from './core/env.js';
export * from './core/risk.js';
export * from './core/clock.js';
export * from './core/daily.js';
export * from './core/journal.js';
export * from './core/order-tracker.js';
export * from './core/logger.js';
export type { Venue, VenueEvent, VenueRequest, VenueSink, VenueNewOrder, VenueModifyOrder, VenueCancelOrder, VenueCancelAll, VenueFetch } from './core/venue.js';

export * from './book/l2-book.js';
export * from './book/l3-book.js';
export * from './book/feed.js';
export * from './book/price-cache.js';
export * from './book/types.js';

export * from './data/events.js';
export * from './data/importers/lobster.js';
export * from './data/importers/binance.js';
export * from './data/importers/coinbase.js';
export * from './data/recorded.js';
export * from './data/synthetic.js';
export * from './core/rng.js';
export * from './data/open.js';

export * from './sim/index.js';
export type { DeltaStats, FillCause, HorizonSummary, ModelFillStats, OrderFill, VsL3Stats } from './sim/queue-compare.js';

export * from './backtest/backtest.js';
export * from './backtest/summary.js';
export * from './backtest/recorder.js';
export * from './backtest/report.js';
export * from './backtest/config.js';

export { ConsoleChannel } from './control/console.js';
export * from './store/journal-reader.js';
export * from './store/replay.js';
export {
  ORDER_EVENT_CALLBACKS,
  OPEN_STATUSES,
  orderEventClientId,
  orderEventSkipReason,
  newOrderRecord,
  initialOrder,
  applyOrderEvent,
  applyOrderRequest,
  applyFillToPosition,
  emptyPosition,
  positionsFromFills,
  type OrderStore,
  type NewOrderRecord,
  type StoredOrder,
  type StoredPendingModify,
  type StoredFill,
  type NewFill,
  type StoredPosition,
  type StoredEvent,
  type StoredEventFields,
  type EventEffect,
  type InsertOrderResult,
  type RecordRequestResult,
  type ListOrdersQuery,
  type OrderUpdate,
} from './store/order-store.js';
export { SqliteOrderStore, OrderStoreFormatError, ORDER_STORE_FORMAT, ORDER_STORE_SCHEMA_VERSION, WAL_RESTART_FRAMES, WAL_RESTART_WAIT_MS, WAL_SIZE_LIMIT_BYTES, type SqliteOrderStoreOptions } from './store/sqlite-store.js';

// Gateway wire protocol (docs/protocol.md). Named exports only: the module's zod primitives
// (Seq, ReqId, InstrumentId...) have generic names, so they are reachable through the
// `gatewayProtocol` namespace instead of the top level.
export {
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  PROTOCOL_ERROR_FATAL,
  CloseCode,
  DEFAULT_LIMITS,
  DEFAULT_CLIENT_LIMITS,
  resolveLimits,
  VENUE_CALLBACKS,
  MD_CALLBACKS,
  EVENT_CALLBACKS,
  FETCH_KINDS,
  EVENT_WIRE_SCHEMAS,
  CLIENT_MESSAGE_SCHEMAS,
  GATEWAY_MESSAGE_SCHEMAS,
  ClientMessageSchema,
  GatewayMessageSchema,
  ControlLoginMsgSchema,
  ControlMsgSchema,
  ControlAckMsgSchema,
  ControlResultMsgSchema,
  MAX_CONTROL_ARGS,
  parseClientFrame,
  parseGatewayFrame,
  serializeFrame,
  errorBody,
  summarizeIssues,
  type ProtocolLimits,
  type VenueCallbackName,
  type EventCallback,
  type WireEventMap,
  type WireOrderStatus,
  type WirePosition,
  type ClientMessage,
  type ClientMessageType,
  type GatewayMessage,
  type GatewayMessageType,
  type RequestMsg,
  type LoginMsg,
  type SubscribeMsg,
  type NewOrderMsg,
  type ModifyOrderMsg,
  type CancelOrderMsg,
  type CancelAllMsg,
  type FetchMsg,
  type SyncMsg,
  type HeartbeatMsg,
  type CmdResultMsg,
  type LogoutMsg,
  type ControlLoginMsg,
  type ControlMsg,
  type ControlAckMsg,
  type ControlResultMsg,
  type LoginAckMsg,
  type ErrorMsg,
  type EventMsg,
  type MdMsg,
  type MdRow,
  type GatewayStatusMsg,
  type SyncResultMsg,
  type CmdMsg,
  type SubscribeAckMsg,
  type FrameBody,
  type EventFrameSchema,
  type EventFrameOption,
  type RawFrame,
  type ParseFailure,
  type ParseResult,
} from './gateway/protocol.js';
export * as gatewayProtocol from './gateway/protocol.js';
export {
  ProtocolError,
  EVENT_DECODE_SCHEMAS,
  isVenueCallback,
  encodeEvent,
  decodeEvent,
  eventBody,
  encodeMd,
  decodeMd,
  instrumentToSpec,
  encodeRequest,
  decodeRequest,
  rejectEvent,
  type RequestBody,
  type RequestBodyFor,
  type VenueRequestFor,
  type DecodeRequestContext,
  type DecodeRequestResult,
  type RequestRejection,
} from './gateway/codec.js';
export { FrameGuard, type GuardClose, type GuardVerdict, type SeqVerdict, type TimerAction } from './gateway/frame-guard.js';
export { TokenVerifier, constantTimeEqual } from './gateway/constant-time.js';

// Gateway server (docs/gateway.md): config, hosted venues, sessions, the server, assembly.
export {
  GatewayConfigSchema,
  GatewayConfigError,
  parseGatewayConfig,
  loadGatewayConfig,
  rateLimitOf,
  type GatewayConfig,
  type GatewayConfigInput,
  type GatewayRateLimit,
  type VenueConfig,
  type ReplayVenueConfig,
  type SyntheticVenueConfig,
  type ParseGatewayConfigOptions,
} from './gateway/config.js';
export { SimVenueHost, type HostedVenue, type VenueHostListener, type SimVenueHostOptions } from './gateway/venue-host.js';
export { GatewaySession, type SessionHandler, type SessionDeps, type SessionState, type ErrorRef } from './gateway/session.js';
export { GatewayServer, CommandError, StoreCommitError, GROUP_COMMIT_MAX_HOLD_US, type GatewayServerOptions } from './gateway/server.js';
export { createGateway, startGateway, openVenueHost, type Gateway, type GatewayAssemblyOptions } from './gateway/gateway.js';
export { peerCertificateNames, readGatewayTls, readPemFile, readTlsIdentity, type GatewayTls, type GatewayTlsFiles, type PemKind, type TlsIdentity } from './gateway/tls.js';

// Strategy side of the gateway (docs/runner.md): transport, remote environment, paper mode.
export {
  GatewayClient,
  backoffDelayMs,
  DEFAULT_BACKOFF,
  NO_RECONNECT_CODES,
  type GatewayClientOptions,
  type GatewayClientEvents,
  type BackoffOptions,
  type ResolvedBackoff,
  type ResumeSpec,
  type DisconnectInfo,
} from './gateway/client.js';
export {
  RemoteEnv,
  RemoteVenue,
  rejectCodeOfProtocolError,
  NOT_READY_REASON,
  type RemoteEnvOptions,
  type RemoteEnvEvents,
  type RemotePhase,
  type RemoteLink,
  type InFlightRequest,
  type ReadyInfo,
} from './gateway/remote-env.js';
export { runPaper, PacedClock, type PaperOptions, type PaperResult } from './gateway/paper.js';
export { LiveStepClock } from './gateway/live-step-clock.js';

// Control channels (docs/control.md): built-in commands, targets, Telegram, ctl.
export {
  ControlCommands,
  BUILTIN_COMMANDS,
  ROLES,
  DEFAULT_CONFIRM_TTL_MS,
  builtinCommand,
  isDangerousCommand,
  roleAllows,
  parseCommandLine,
  type Role,
  type Caller,
  type CommandSpec,
  type ControlReply,
  type ControlCommandsOptions,
} from './control/commands.js';
export {
  envControlTarget,
  remoteControlTarget,
  serveControlOp,
  gatewayControlTargets,
  coerceParamValue,
  CONTROL_HOOK,
  CONTROL_OPS,
  CONTROL_OP_ROLES,
  MAX_LISTED,
  type ControlTarget,
  type ControlResult,
  type SetParamResult,
  type ControlOp,
  type ControlCall,
  type CommandServer,
  type EnvControlTargetOptions,
} from './control/target.js';
export { CONSOLE_CALLER, type ConsoleChannelOptions } from './control/console.js';
export {
  TelegramControl,
  RateLimitedSender,
  TelegramConfigSchema,
  TelegramConfigError,
  parseTelegramConfig,
  startTelegramFromConfig,
  createTelegramFromConfig,
  launchTelegram,
  resolveTelegramToken,
  redactSecret,
  DEFAULT_TOKEN_ENV,
  DEFAULT_PUBLISH_LIMITS,
  MAX_MESSAGE_CHARS,
  type TelegramControlOptions,
  type TelegramUser,
  type TelegramState,
  type TelegramConfig,
  type PublishLimits,
  type RateLimitedSenderOptions,
  type StartTelegramOptions,
  type TelegramLaunch,
  type TokenSource,
} from './control/telegram.js';
export { ctlCommand, runCtlCommand, connectControl, CtlUsageError, CTL_TOKEN_ENV, CTL_CALLER, type CtlCliOptions, type CtlIo, type CtlLink, type ConnectControlOptions } from './cli/ctl-command.js';
export { WriteBehindOrderStore, OrderStoreLockedError, inspectOrderLog, type OrderLogState, type WriteBehindOrderStoreOptions, type WriteBehindRecovery } from './store/write-behind-store.js';
export type { ApplierPriority } from './store/write-behind-shared.js';
export { OrderLog, OrderLogFormatError, OrderLogFullError, ORDER_LOG_DEFAULT_BYTES, ORDER_LOG_HEADER_BYTES, ORDER_LOG_RECORD_OVERHEAD_BYTES, type OrderLogOptions, type OrderLogRecord, type OrderLogScan } from './store/order-log.js';
