/**
 * The sandbox kit: what every protocol is built from, each service once. A protocol's code
 * imports from here (or a kit file), never from the server. Its declaration (protocols/<name>/
 * index.ts) imports only kit/protocol.ts and kit/options.ts: `batchup --help` loads declarations,
 * and this barrel would load every service.
 */
export { defineProtocol } from './protocol.js';
export type { Protocol, ProtocolDefinition, Route, SandboxCore, OptionsOf, StatsOf, ProtocolOptionsFor, ProtocolStatsFor } from './protocol.js';
export { RequestContext, BodyTooLarge, sleep, type ContextServices } from './context.js';
export { readJson, readJsonOr, JsonBodyError, DEFAULT_MAX_JSON_BYTES, type JsonBodyProblem, type ReadJsonOptions } from './json-body.js';
export { JsonRecords, writeFileAtomic, type JsonRecordsOptions } from './records.js';
export { jobAt, stepsDone, type Clock, type JobPosition, type Phase } from './job-clock.js';
export { RateLimiter, parseRatePolicies, formatRatePolicies, type RateDecision, type RatePolicy } from './rate-limit.js';
export { OutboundFetch, FETCH_TIMEOUT_MS, MAX_REDIRECTS, type FetchFailure, type FetchPolicy, type FetchToStoreResult, type FirstBytes } from './fetch.js';
export { WebhookSender, WEBHOOK_TIMEOUT_MS, type Delivery, type WebhookStats } from './webhooks.js';
export { ThrottleLedger, retryAfterMs, type ThrottleStats } from './throttle.js';
export { FaultInjector, FAULT_KINDS, ALL_FAULT_KINDS, DEFAULT_FAULTS, mulberry32, stripUndefined, type FaultKind, type FaultOptions } from './faults.js';
export { OptionError, resolveOptions, numberOption, integerOption, faultKindsOption, type OptionSpec, type OptionSpecs } from './options.js';
export { ContentStore, TempWriter, drainOrClose, type Ingested } from './store.js';
export { Stats, type StatsSnapshot } from './stats.js';
export { createAuthCheck, bearerToken, type AuthCheck, type AuthOptions } from './auth.js';
export { contentTypeOf, extFromContentType, sniffExt } from './media.js';
export { isLoopback, originHost } from './net.js';
