/**
 * The protocols `batchup serve` and `startSandbox()` serve by default, in the order help lists
 * them. Each entry is a light declaration (name, endpoint, summary, settings); its code loads
 * when a sandbox starts. To add one: see README "The sandbox" (a folder here, then one line below).
 */
import type { ProtocolOptionsFor, ProtocolStatsFor } from '../kit/protocol.js';
import type { StatsSnapshot } from '../kit/stats.js';
import { aihub } from './aihub/index.js';
import { bach } from './bach/index.js';
import { blurb } from './blurb/index.js';
import { claid } from './claid/index.js';
import { hybrid } from './hybrid/index.js';

export const DEFAULT_PROTOCOLS = [bach, hybrid, aihub, claid, blurb] as const;

export type DefaultProtocols = typeof DEFAULT_PROTOCOLS;

/** `protocolOptions` of the default list: `{ hybrid?: Partial<HybridOptions>, aihub?: Partial<AihubOptions> }`. */
export type DefaultProtocolOptions = ProtocolOptionsFor<DefaultProtocols>;

/** The `/_sandbox/stats` snapshot of the default list: the generic counters, plus `hybrid` and `aihub`. */
export type SandboxStats = StatsSnapshot & ProtocolStatsFor<DefaultProtocols>;
